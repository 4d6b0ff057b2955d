package ocimirror.server.pullthrough;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.server.upstream.BlobSink;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.server.upstream.UpstreamHead;
import ocimirror.server.upstream.UpstreamListing;
import ocimirror.server.upstream.UpstreamManifest;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * An in-process upstream whose blob bodies the test feeds byte by byte: the one thing a real
 * registry cannot do (stop halfway, send bytes that do not match the digest, hold a download
 * open while the test looks at it). Manifests come from a map. Calls to the sink are made on
 * the test's thread, in the order {@link BlobSink} prescribes.
 */
public final class ScriptedUpstream implements UpstreamClient {

    public final AtomicInteger blobFetches = new AtomicInteger();
    public final AtomicInteger manifestGets = new AtomicInteger();
    public final AtomicInteger listings = new AtomicInteger();
    private final Map<String, UpstreamListing> listingAnswers = new ConcurrentHashMap<>();
    private volatile UpstreamException.Kind listingFailure;
    private final String name;
    private final BlockingQueue<Transfer> transfers = new LinkedBlockingQueue<>();
    private final Map<String, UpstreamManifest> manifests = new ConcurrentHashMap<>();
    private volatile CompletableFuture<Void> manifestGate = CompletableFuture.completedFuture(null);
    private volatile UpstreamException.Kind manifestFailure;

    public ScriptedUpstream(String name) {
        this.name = name;
    }

    /** Serves {@code body} for {@code repo:ref} (and by its digest). */
    public Digest manifest(String repo, String ref, String mediaType, byte[] body) {
        Digest d = Digest.sha256(body);
        UpstreamManifest m = new UpstreamManifest(200, mediaType, d, body);
        manifests.put(repo + ":" + ref, m);
        manifests.put(repo + ":" + d, m);
        return d;
    }

    /** Manifest answers (GET and HEAD) wait until the returned future is completed by the test. */
    public CompletableFuture<Void> holdManifests() {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        manifestGate = gate;
        return gate;
    }

    /** Every manifest GET and HEAD fails with {@code kind} from now on (null: answer again). */
    public void failManifests(UpstreamException.Kind kind) {
        manifestFailure = kind;
    }

    private <T> CompletableFuture<T> answer(T value) {
        UpstreamException.Kind failure = manifestFailure;
        return manifestGate.thenCompose(v -> failure != null
                ? CompletableFuture.failedFuture(new UpstreamException(failure, "scripted " + failure))
                : value != null ? CompletableFuture.completedFuture(value)
                : CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.NOT_FOUND, "404")));
    }

    /** Answers {@code GET /v2/<repo>/tags/list} (whatever n and last) with {@code json}. */
    public void tags(String repo, String json, String link) {
        listingAnswers.put(repo + " tags", new UpstreamListing(200, "application/json", link, null,
                json.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** Answers the referrers API for {@code subject} with {@code index} (unset: 404, as distribution 2.8). */
    public void referrers(String repo, Digest subject, String index) {
        listingAnswers.put(repo + " " + subject, new UpstreamListing(200, "application/vnd.oci.image.index.v1+json",
                null, null, index.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /**
     * Answers the referrers API for {@code subject} in pages: page i names page i + 1 in its
     * {@code Link} ({@code <path?page=i+1>}), the last names none.
     */
    public void referrersPages(String repo, Digest subject, String... pages) {
        String path = "/v2/" + repo + "/referrers/" + subject;
        for (int i = 0; i < pages.length; i++) {
            String link = i + 1 < pages.length ? "<" + path + "?page=" + (i + 1) + ">; rel=\"next\"" : null;
            listingAnswers.put(i == 0 ? repo + " " + subject : repo + " " + subject + " page=" + i,
                    new UpstreamListing(200, "application/vnd.oci.image.index.v1+json", link, null,
                            pages[i].getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        }
    }

    /** Every tags/list and referrers request fails with {@code kind} from now on (null: answer again). */
    public void failListings(UpstreamException.Kind kind) {
        listingFailure = kind;
    }

    private CompletableFuture<UpstreamListing> listing(String key) {
        listings.incrementAndGet();
        UpstreamException.Kind failure = listingFailure;
        UpstreamListing l = listingAnswers.get(key);
        return failure != null ? CompletableFuture.failedFuture(new UpstreamException(failure, "scripted " + failure))
                : l != null ? CompletableFuture.completedFuture(l)
                : CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.NOT_FOUND, "404"));
    }

    @Override
    public CompletableFuture<UpstreamListing> listTags(RepoName repo, int n, String last) {
        return listing(repo + " tags");
    }

    @Override
    public CompletableFuture<UpstreamListing> referrers(RepoName repo, Digest subject, String artifactType) {
        return listing(repo + " " + subject);
    }

    @Override
    public CompletableFuture<UpstreamListing> referrersPage(RepoName repo, Digest subject, String link) {
        int q = link.indexOf("?page=");
        return listing(repo + " " + subject + " page=" + (q < 0 ? "?" : link.substring(q + 6, link.indexOf('>'))));
    }

    /** The next blob download the mirror started, waiting up to 5 s for it. */
    public Transfer nextTransfer() throws InterruptedException {
        Transfer t = transfers.poll(5, TimeUnit.SECONDS);
        if (t == null) {
            throw new AssertionError("the mirror started no blob download");
        }
        return t;
    }

    /** Whether a download was started and not yet taken by {@link #nextTransfer()}. */
    public boolean hasPendingTransfer() {
        return !transfers.isEmpty();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public CompletableFuture<UpstreamManifest> getManifest(RepoName repo, Reference reference, List<String> accept) {
        manifestGets.incrementAndGet();
        return answer(manifests.get(repo + ":" + reference));
    }

    @Override
    public CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept) {
        UpstreamManifest m = manifests.get(repo + ":" + reference);
        return answer(m == null ? null : new UpstreamHead(200, m.dockerContentDigest(), m.contentType(),
                m.body().length));
    }

    @Override
    public CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink) {
        blobFetches.incrementAndGet();
        Transfer t = new Transfer(repo, digest, sink);
        transfers.add(t);
        return t.result;
    }

    @Override
    public void close() {
        transfers.forEach(t -> t.fail(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "closed")));
    }

    /** One blob download, driven by the test. */
    public static final class Transfer {
        public final RepoName repo;
        public final Digest digest;
        private final BlobSink sink;
        private final CompletableFuture<Long> result = new CompletableFuture<>();
        private long sent;

        Transfer(RepoName repo, Digest digest, BlobSink sink) {
            this.repo = repo;
            this.digest = digest;
            this.sink = sink;
            // What NettyUpstreamClient does on cancel: abort the transfer.
            result.whenComplete((v, e) -> {
                if (result.isCancelled()) {
                    sink.onError(e);
                }
            });
        }

        /** What the sink tells the connection queue: does a client wait for this download? */
        public boolean clientWaiting() {
            return sink.clientWaiting();
        }

        /** The download got its turn among the upstream's connections (it would go out now). */
        public Transfer turn() {
            sink.onTurn();
            return this;
        }

        /** Whether the mirror cancelled the transfer. */
        public boolean cancelled() {
            return result.isCancelled();
        }

        /** The response headers: a 200 declaring {@code length} bytes. */
        public Transfer start(long length) {
            sink.onStart(length).toCompletableFuture().join();
            return this;
        }

        /** Hands {@code bytes} to the mirror and waits until it has written them. */
        public Transfer send(byte[] bytes) {
            sink.onData(ByteBuffer.wrap(bytes)).toCompletableFuture().join();
            sent += bytes.length;
            return this;
        }

        /** The body ended cleanly. */
        public void complete() {
            sink.onComplete(sent);
            result.complete(sent);
        }

        /** The transfer broke off (or failed before the headers, if {@link #start} was not called). */
        public void fail(UpstreamException e) {
            if (!result.isDone()) {
                sink.onError(e);
                result.completeExceptionally(e);
            }
        }

        /** Starts a body of {@code body.length} bytes, sends it in {@code pieces} and ends cleanly. */
        public void serve(byte[] body, int pieces) {
            start(body.length);
            sendAll(body, pieces);
        }

        /** After {@link #start}: sends {@code body} in {@code pieces} and ends cleanly. */
        public void sendAll(byte[] body, int pieces) {
            int step = Math.max(1, body.length / pieces);
            for (int off = 0; off < body.length; off += step) {
                byte[] part = java.util.Arrays.copyOfRange(body, off, Math.min(body.length, off + step));
                send(part);
            }
            complete();
        }
    }
}
