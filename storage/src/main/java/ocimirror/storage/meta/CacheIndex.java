package ocimirror.storage.meta;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.Predicate;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * What eviction, garbage collection, pinning and {@code verify} need from the metadata beyond the
 * registry's own operations ({@link MetadataStore}): the running total of committed blob bytes,
 * the blobs in least-recently-used order, which repositories hold a blob, whole-blob removal,
 * scans, and the pins set by {@code ocimirror pin}.
 *
 * <p>The total, the {@code lru} order and the {@code refs} index are derived data, kept in the
 * same atomic RocksDB batches as the records they derive from ({@link MetadataStore#putBlob},
 * {@link MetadataStore#linkBlob}, {@link MetadataStore#putManifest}, ...), so they survive any
 * crash consistent with them; start-up reads one counter instead of scanning. On PostgreSQL
 * ({@code PgMetadataStore}, shared by replicas) the order and the refs are an index and a query,
 * the total counter rows written with each record, and removal is atomic against every replica's
 * links (see {@code PgIndex}).
 *
 * <p>Thread-safe. Everything here reads or writes the store: storage executor only, except
 * {@link #blobBytes()} (a memory read).
 */
public interface CacheIndex {

    /**
     * Bytes of every blob with a {@link BlobRecord}: what the cache bound is measured against. With
     * a shared store, the total as of this process's last write or refresh.
     */
    long blobBytes();

    /** Called (on the writing thread) with the new total after every change of {@link #blobBytes()}. */
    void addBlobBytesListener(LongConsumer listener);

    /** Up to {@code n} blobs in eviction order (least recently used first) after {@code after} (null: from the start). */
    List<LruEntry> lru(LruEntry after, int n);

    /** Moves the blob to {@code lastAccess} in the eviction order (as {@link MetadataStore#touchBlob}). */
    void touchBlob(Digest digest, long lastAccess);

    /** The repositories that link {@code digest} or hold it as a manifest. */
    List<BlobRef> refs(Digest digest);

    /**
     * Removes a blob from the metadata in one atomic batch: its record, its {@code lru} entry, every
     * link to it, every manifest stored under its digest (with the tags pointing at it and its
     * referrer entry), and its refs. Refused (nothing changes, empty result) if a repository that
     * holds it fails {@code mayDrop}. The caller deletes the file afterwards, so that metadata never
     * points at a missing file.
     *
     * @return the removed record; empty if refused or there was none (refs are removed either way
     *         when allowed)
     */
    Optional<BlobRecord> removeBlob(Digest digest, Predicate<RepoName> mayDrop);

    /** Every link of {@code repo}, sorted by digest. */
    List<LinkRecord> links(RepoName repo);

    /**
     * Removes the link if it was made before {@code cutoff} (epoch millis); false otherwise. Atomic
     * with {@link MetadataStore#linkBlob}, so a link renewed meanwhile stays.
     */
    boolean unlinkIfOlder(RepoName repo, Digest digest, long cutoff);

    /** Every manifest of {@code repo}, sorted by digest. */
    List<ManifestRecord> manifests(RepoName repo);

    /** Every tag of {@code repo} with what it points at, sorted by tag. */
    List<TagEntry> tags(RepoName repo);

    /** Every repository ever written to (the catalog), sorted. */
    List<RepoName> repositories();

    /** Calls {@code visitor} with every blob record, in digest order (one sequential scan). */
    void forEachBlob(Consumer<BlobRecord> visitor);

    /**
     * Rebuilds the derived data ({@code lru}, {@code refs}, the total) from the records, e.g. after
     * {@code verify --repair} removed records. Returns the new total.
     */
    long rebuildIndex();

    // --- pins set on the command line ---
    /** Adds a pin; false if it was there. */
    boolean addPin(String image);

    /** Removes a pin; false if it was not there. */
    boolean removePin(String image);

    /** The pins, sorted. */
    List<String> pins();

    /** A tag and its record. */
    record TagEntry(String tag, TagRecord record) {
    }
}
