package ocimirror.server.pullthrough;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * The blob downloads in progress, one per digest however many clients ask: the first request
 * for a digest starts a {@link BlobFetch}, later ones join it. A fetch leaves the map when it is
 * over; a failed one is replaced by the next request, which tries again.
 *
 * <p>A fetch belongs to no client: it runs to its end when every client that asked for it has
 * gone (the cache still wants the blob), bounded by the upstream client's idle timeout.
 * Content-addressed, so a fetch started for one repository (or upstream) serves a request from
 * any other for the same digest. Thread-safe.
 */
public final class InflightFetches implements AutoCloseable {
    private final BlobStore blobs;
    private final Executor storage;
    private final Consumer<BlobInfo> onCommit;
    private final ConcurrentHashMap<Digest, BlobFetch> byDigest = new ConcurrentHashMap<>();
    private final LongAdder started = new LongAdder();
    private final LongAdder joined = new LongAdder();
    private volatile boolean closed;

    /**
     * @param storage  where the ingest file is written and committed
     * @param onCommit runs on a storage thread once a blob is committed (records it in the metadata)
     */
    public InflightFetches(BlobStore blobs, Executor storage, Consumer<BlobInfo> onCommit) {
        this.blobs = requireNonNull(blobs, "blobs");
        this.storage = requireNonNull(storage, "storage");
        this.onCommit = requireNonNull(onCommit, "onCommit");
    }

    /**
     * The download of {@code digest} in progress, or a new one from {@code repo} at {@code client}.
     *
     * @return the fetch, or null if the blob is stored already (a download just finished)
     */
    public BlobFetch join(Digest digest, UpstreamClient client, RepoName repo) {
        return join(digest, client, repo, r -> { });
    }

    /**
     * As {@link #join(Digest, UpstreamClient, RepoName)}, telling {@code outcome} whether the
     * request started the download ({@link CacheResult#MISS}) or joined one ({@link CacheResult#COALESCED}).
     */
    public BlobFetch join(Digest digest, UpstreamClient client, RepoName repo, Consumer<CacheResult> outcome) {
        return join(digest, client, repo, outcome, false);
    }

    /**
     * As {@link #join(Digest, UpstreamClient, RepoName, Consumer)}, for a client ({@code background}
     * false: it calls {@link BlobFetch#unwant()} if it leaves before the download starts) or for
     * background work, which yields to clients while downloads wait for the upstream's connections.
     */
    public BlobFetch join(Digest digest, UpstreamClient client, RepoName repo, Consumer<CacheResult> outcome,
                          boolean background) {
        requireNonNull(client, "client");
        requireNonNull(repo, "repo");
        while (true) {
            BlobFetch existing = byDigest.get(digest);
            if (existing != null && existing.failure() == null && existing.want(background)) {
                joined.increment();
                outcome.accept(CacheResult.COALESCED);
                return existing;
            }
            if (closed) {
                throw ocimirror.storage.oci.OciError.UNAVAILABLE.exception("the mirror is shutting down");
            }
            if (blobs.stat(digest).isPresent()) {
                return null;
            }
            BlobFetch[] self = new BlobFetch[1];
            BlobFetch fresh = new BlobFetch(digest, blobs, storage, onCommit, () -> byDigest.remove(digest, self[0]));
            self[0] = fresh;
            boolean won = existing == null ? byDigest.putIfAbsent(digest, fresh) == null
                    : byDigest.replace(digest, existing, fresh);
            if (won) {
                fresh.want(background);
                started.increment();
                outcome.accept(CacheResult.MISS);
                fresh.start(client, repo);
                return fresh;
            }
        }
    }

    /** The download of {@code digest} in progress, or null. */
    public BlobFetch get(Digest digest) {
        return byDigest.get(digest);
    }

    /** Downloads in progress now. */
    public int size() {
        return byDigest.size();
    }

    /** Downloads started since creation. */
    public long startedCount() {
        return started.sum();
    }

    /** Requests that joined a download already in progress, since creation. */
    public long joinedCount() {
        return joined.sum();
    }

    /** Cancels every download in progress; later joins fail. */
    @Override
    public void close() {
        closed = true;
        List.copyOf(byDigest.values()).forEach(BlobFetch::cancel);
    }
}
