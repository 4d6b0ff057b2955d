package ocimirror.storage.meta.pg;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.HotRecords;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.MetadataException;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.Page;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * A replica's memory in front of the shared {@link PgMetadataStore}: the tag, manifest-record and
 * link lookups that every pull request makes are answered from {@link HotRecords} on a hit (absent
 * records too), and kept right on every replica by PostgreSQL's {@code LISTEN/NOTIFY}.
 *
 * <p>Design:
 * <ul>
 *   <li><b>Announcing.</b> Every write of a tag, manifest record or link (deletes included)
 *       sends a {@code NOTIFY} naming the key in the writing transaction ({@link PgChanges}), so it
 *       is delivered to every replica when, and only if, the write commits.</li>
 *   <li><b>Listening.</b> One connection per replica, outside the pool, on a thread of its own
 *       ({@link PgListener}), invalidates each announced key. The writing replica also invalidates
 *       its keys itself after the write returns, so it reads its own writes at once; inside
 *       {@link #inRepoLock} once more after the body's transaction has committed. Reads inside such
 *       a body bypass the memory: they see the body's uncommitted transaction, which must never
 *       be cached (it may roll back).</li>
 *   <li><b>Races.</b> A load that read the old value before an invalidation never stays cached:
 *       see {@link HotRecords} (Caffeine's invalidation waits for a load of the same key, and a
 *       generation counter drops a load that overlapped any invalidation of its key stripe, a full
 *       resync included). A change committed on another replica is served here once its
 *       notification has arrived: milliseconds on a healthy network.</li>
 *   <li><b>Degraded.</b> While the listener's connection is lost, {@link #inSync()} is false and
 *       what is in memory keeps being served: possibly stale by the missed changes, which is the
 *       point (cached pulls go on while PostgreSQL is briefly away). Uncached reads and every write
 *       fail as {@link PgMetadataStore}'s do. The listener reconnects by itself with a back-off
 *       and then invalidates everything at once, because announcements made meanwhile are lost.</li>
 * </ul>
 * Listings, referrers, blob records, uploads and {@code repositoryExists} are not cached: they
 * are not on the per-request path, and each call asks PostgreSQL.
 *
 * <p>Threading: as {@link MetadataStore}: a hit is a memory read (event-loop safe); a miss or a
 * write may block on the network and belongs on the storage executor. Thread-safe.
 */
public final class CachedPgMetadataStore implements MetadataStore {
    private final MetadataStore delegate;
    private final HotRecords hot;
    private final PgListener listener;
    /** Set on a thread while it runs an {@link #inRepoLock} body: what to invalidate after its commit. */
    private final ThreadLocal<List<Runnable>> inBody = new ThreadLocal<>();
    /** Volatile: a hit checks it (after close, every call fails as the delegate's do). */
    private volatile boolean closed;

    private CachedPgMetadataStore(MetadataStore delegate, HotRecords hot, PgSettings settings,
                                  PgListener.Backoff backoff) throws IOException {
        this.delegate = delegate;
        this.hot = hot;
        String own = delegate instanceof PgMetadataStore pg ? pg.origin() : null;
        this.listener = PgListener.start(settings, payload -> PgChanges.apply(payload, hot, own), hot::invalidateAll,
                backoff);
    }

    /** Opens a {@link PgMetadataStore} and the listener; fails if either cannot connect. */
    public static CachedPgMetadataStore open(PgSettings settings, Clock clock) throws IOException {
        PgMetadataStore store = PgMetadataStore.open(settings, clock);
        try {
            return over(store, settings, PgListener.Backoff.DEFAULT, HotRecords.MAX_ENTRIES);
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** In front of {@code delegate} (a {@link PgMetadataStore} on {@code settings}' database), which it closes. */
    static CachedPgMetadataStore over(MetadataStore delegate, PgSettings settings, PgListener.Backoff backoff,
                                      int maxEntries) throws IOException {
        requireNonNull(delegate, "delegate");
        requireNonNull(settings, "settings");
        return new CachedPgMetadataStore(delegate, new HotRecords(maxEntries), settings, backoff);
    }

    // --- links ---

    @Override
    public void linkBlob(RepoName repo, Digest digest) {
        try {
            delegate.linkBlob(repo, digest);
        } finally {
            changed(() -> hot.linkChanged(repo, digest), () -> isBlobLinked(repo, digest));
        }
    }

    @Override
    public boolean isBlobLinked(RepoName repo, Digest digest) {
        if (bypass()) {
            return delegate.isBlobLinked(repo, digest);
        }
        return hot.linked(repo, digest, k -> delegate.isBlobLinked(repo, digest));
    }

    @Override
    public boolean unlinkBlob(RepoName repo, Digest digest) {
        try {
            return delegate.unlinkBlob(repo, digest);
        } finally {
            changed(() -> hot.linkChanged(repo, digest));
        }
    }

    @Override
    public boolean isBlobLinkedAnywhere(Digest digest) {
        return delegate.isBlobLinkedAnywhere(digest);
    }

    // --- manifests ---

    @Override
    public void putManifest(RepoName repo, ManifestRecord manifest) {
        try {
            delegate.putManifest(repo, manifest);
        } finally {
            if (manifest != null) {
                changed(() -> hot.manifestChanged(repo, manifest.digest()), () -> getManifest(repo, manifest.digest()));
            }
        }
    }

    @Override
    public Optional<ManifestRecord> getManifest(RepoName repo, Digest digest) {
        if (bypass()) {
            return delegate.getManifest(repo, digest);
        }
        return hot.manifest(repo, digest, k -> delegate.getManifest(repo, digest));
    }

    @Override
    public boolean deleteManifest(RepoName repo, Digest digest) {
        try {
            return delegate.deleteManifest(repo, digest);
        } finally {
            changed(() -> {
                hot.manifestChanged(repo, digest);
                hot.tagsOnChanged(repo, digest); // the notification names them; this replica's reads are now
            });
        }
    }

    @Override
    public List<ManifestRecord> referrers(RepoName repo, Digest subject) {
        return delegate.referrers(repo, subject);
    }

    // --- tags ---

    @Override
    public void putTag(RepoName repo, String tag, TagRecord record) {
        try {
            delegate.putTag(repo, tag, record);
        } finally {
            changed(() -> hot.tagChanged(repo, tag), () -> getTag(repo, tag));
        }
    }

    @Override
    public Optional<TagRecord> getTag(RepoName repo, String tag) {
        if (bypass()) {
            return delegate.getTag(repo, tag);
        }
        return hot.tag(repo, tag, k -> delegate.getTag(repo, tag));
    }

    @Override
    public boolean deleteTag(RepoName repo, String tag) {
        try {
            return delegate.deleteTag(repo, tag);
        } finally {
            changed(() -> hot.tagChanged(repo, tag));
        }
    }

    @Override
    public Page<String> listTags(RepoName repo, String last, int n) {
        return delegate.listTags(repo, last, n);
    }

    // --- repositories ---

    @Override
    public boolean repositoryExists(RepoName repo) {
        return delegate.repositoryExists(repo);
    }

    @Override
    public Page<String> listRepositories(String last, int n) {
        return delegate.listRepositories(last, n);
    }

    // --- blob records ---

    @Override
    public void putBlob(BlobRecord record) {
        delegate.putBlob(record);
    }

    @Override
    public Optional<BlobRecord> getBlob(Digest digest) {
        return delegate.getBlob(digest);
    }

    @Override
    public void deleteBlob(Digest digest) {
        delegate.deleteBlob(digest);
    }

    @Override
    public void touchBlob(Digest digest, long lastAccess) {
        delegate.touchBlob(digest, lastAccess);
    }

    /** Whether a read goes to PostgreSQL directly: inside a lock body; after close, to fail as it does. */
    private boolean bypass() {
        return closed || inBody.get() != null;
    }

    /** The body's reads bypass the memory; its writes are invalidated again once it has committed. */
    @Override
    public <T> T inRepoLock(RepoName repo, Supplier<T> body) {
        if (inBody.get() != null) { // nested: the same transaction
            return delegate.inRepoLock(repo, body);
        }
        List<Runnable> afterCommit = new ArrayList<>();
        inBody.set(afterCommit);
        try {
            return delegate.inRepoLock(repo, body);
        } finally {
            inBody.remove();
            afterCommit.forEach(Runnable::run);
        }
    }

    /**
     * Invalidates now (this replica reads its own write), and once more after the enclosing lock
     * body's commit if there is one: a reader on another thread may have loaded the committed,
     * older value in between. Also after a failed write: it may have committed all the same.
     */
    private void changed(Runnable invalidation) {
        invalidation.run();
        List<Runnable> afterCommit = inBody.get();
        if (afterCommit != null) {
            afterCommit.add(invalidation);
        }
    }

    /**
     * As {@link #changed(Runnable)}, then reads the record back into memory (after the body's
     * commit, inside one): what this replica has just written is what its clients ask for next,
     * and while PostgreSQL is away only what is in memory can be served. A write drops its key
     * rather than putting its own value there, so that a newer write from another replica whose
     * notification came first is never overwritten; the read back goes through the load that
     * races safely with notifications. Best effort: a failed read leaves the key out.
     */
    private void changed(Runnable invalidation, Runnable readBack) {
        Runnable both = () -> {
            invalidation.run();
            try {
                readBack.run();
            } catch (MetadataException e) {
                // not in memory then: the next read asks PostgreSQL
            }
        };
        List<Runnable> afterCommit = inBody.get();
        if (afterCommit != null) {
            invalidation.run();
            afterCommit.add(both);
        } else {
            both.run();
        }
    }

    // --- upload sessions ---

    @Override
    public void putUpload(UploadRecord upload) {
        delegate.putUpload(upload);
    }

    @Override
    public Optional<UploadRecord> getUpload(String id) {
        return delegate.getUpload(id);
    }

    @Override
    public void deleteUpload(String id) {
        delegate.deleteUpload(id);
    }

    @Override
    public void clearUploads() {
        delegate.clearUploads();
    }

    @Override
    public void clearUploads(String owner) {
        delegate.clearUploads(owner);
    }

    /** A miss asks PostgreSQL. */
    @Override
    public boolean mayBlock() {
        return true;
    }

    /**
     * The store under this one, as eviction, garbage collection and verify see it. Its removals
     * announce themselves as every write does, so this replica's memory drops them when the
     * notification arrives.
     */
    public CacheIndex index() {
        if (delegate instanceof CacheIndex index) {
            return index;
        }
        throw new IllegalStateException(delegate + " is not a CacheIndex");
    }

    // --- state, for readiness and metrics ---

    /**
     * Whether the listener is connected, so that every change committed elsewhere reaches this
     * replica's memory. False while PostgreSQL is out of reach: cached records are still served.
     */
    public boolean inSync() {
        return listener.inSync();
    }

    /** Tag, manifest and link lookups answered from memory. */
    public long hits() {
        return hot.hits();
    }

    /** Tag, manifest and link lookups that asked PostgreSQL. */
    public long misses() {
        return hot.misses();
    }

    /** Keys invalidated (by this replica's writes and by announcements), plus one per full resync. */
    public long invalidations() {
        return hot.invalidations();
    }

    /** Times the listener reconnected after losing its connection (each one a full resync). */
    public long reconnects() {
        return listener.reconnects();
    }

    /** The listener's server process (tests cut it to force a reconnection). */
    int listenerPid() {
        return listener.backendPid();
    }

    /** Stops the listener and closes the delegate. Idempotent. */
    @Override
    public void close() {
        closed = true;
        listener.close();
        delegate.close();
    }

    @Override
    public String toString() {
        return "CachedPgMetadataStore[" + delegate + "]";
    }
}
