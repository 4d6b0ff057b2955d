package ocimirror.storage.meta;

import java.util.List;
import java.util.Optional;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * Registry metadata: which repository may serve which blob and manifest, tags, referrers,
 * blob records and upload sessions. Reads are cheap point lookups or short scans; writes
 * are durable (WAL) and must run on a storage executor, never on an event loop.
 *
 * <p>Listings are sorted lexically by their key and paginated with {@code last} (exclusive,
 * null for the start) and {@code n} (maximum entries); {@code n <= 0} gives no items, with
 * {@code more} telling whether any entry follows {@code last}.
 */
public interface MetadataStore extends AutoCloseable {

    // --- repository -> blob links (layers and configs) ---
    void linkBlob(RepoName repo, Digest digest);

    boolean isBlobLinked(RepoName repo, Digest digest);

    /** Removes the link; false if there was none. */
    boolean unlinkBlob(RepoName repo, Digest digest);

    /**
     * Whether any repository links {@code digest} (a manifest stored under it does not count): a
     * blob some repository serves. A point seek, not a scan of the repositories.
     */
    boolean isBlobLinkedAnywhere(Digest digest);

    // --- manifests ---
    /** Stores the manifest record (and its referrer entry if it has a subject) atomically. */
    void putManifest(RepoName repo, ManifestRecord manifest);

    Optional<ManifestRecord> getManifest(RepoName repo, Digest digest);

    /** Deletes the manifest, the tags that point at it and its referrer entry; false if absent. */
    boolean deleteManifest(RepoName repo, Digest digest);

    /** Manifests in {@code repo} whose subject is {@code subject}, sorted by digest. */
    List<ManifestRecord> referrers(RepoName repo, Digest subject);

    // --- tags ---
    void putTag(RepoName repo, String tag, TagRecord record);

    Optional<TagRecord> getTag(RepoName repo, String tag);

    boolean deleteTag(RepoName repo, String tag);

    Page<String> listTags(RepoName repo, String last, int n);

    // --- repositories (anything with a link, manifest or tag) ---
    boolean repositoryExists(RepoName repo);

    Page<String> listRepositories(String last, int n);

    // --- blob records ---
    void putBlob(BlobRecord record);

    Optional<BlobRecord> getBlob(Digest digest);

    void deleteBlob(Digest digest);

    /**
     * Records a read of the blob at {@code lastAccess} (epoch millis) for the eviction order, unless
     * a later one is recorded. Callers throttle it (at most once a minute per blob): it is a write.
     */
    void touchBlob(Digest digest, long lastAccess);

    /**
     * Runs {@code body} holding {@code repo}'s lock (reentrant; with a shared store, every replica
     * respects it). Garbage collection sweeps a repository's links under it, so a manifest push
     * that checks its blobs and records the manifest under it cannot interleave with the sweep.
     *
     * <p>The body's own calls see its writes. Whether others see them before it returns differs:
     * RocksDB makes each write durable as it is made; PostgreSQL runs the body in one transaction,
     * committed when it returns and rolled back if it throws. A body must rely on neither.
     */
    <T> T inRepoLock(RepoName repo, java.util.function.Supplier<T> body);

    // --- upload sessions ---
    void putUpload(UploadRecord upload);

    Optional<UploadRecord> getUpload(String id);

    void deleteUpload(String id);

    /** Forgets every upload session, whoever owns it. */
    void clearUploads();

    /**
     * Forgets the upload sessions {@code owner} recorded ({@link UploadRecord#owner()}): what a
     * replica's start-up calls, as it wipes its own ingest area, leaving the sessions of the other
     * replicas sharing the store alone. On a single node every session is {@link UploadRecord#LOCAL}'s.
     */
    void clearUploads(String owner);

    /**
     * Whether a read may block on the network (a store on a database server, even behind a
     * cache: a miss is a round trip, and while the server is away up to the pool's timeout).
     * False for a local store, whose reads the server makes on the event loop; when true, the
     * server makes them on its storage executor.
     */
    default boolean mayBlock() {
        return false;
    }

    @Override
    void close();
}
