package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.Predicate;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The blob-record half of {@link RocksMetadataStore}: blob records with their {@code lru} entries
 * and the running byte total, the {@code refs} index, whole-blob removal, scans and pins. Blob
 * record writes are serialised by {@code blobLock} (a read-modify-write of the total and of the
 * {@code lru} key each), link writes by {@code linkLock}, tag writes by {@code tagLock}; a
 * method needing several takes them in that order: link, tag, blob.
 *
 * <p>The total is persisted in the default column family in the same batch as every record change,
 * and kept in memory, so start-up reads one value (databases from before it get it computed once,
 * see {@link #upgrade}). Package-private: reached through {@link RocksMetadataStore}, whose
 * lifecycle lock guards every call.
 */
final class RocksCache {
    private static final Logger log = LoggerFactory.getLogger(RocksCache.class);
    private static final byte[] EMPTY = new byte[0];
    private static final byte[] BLOB_BYTES = "blobBytes".getBytes(UTF_8);
    private static final byte[] SCHEMA = "schema".getBytes(UTF_8);
    /** 2: lru, refs, the total and link times exist. */
    static final long SCHEMA_VERSION = 2;

    private final RocksDB db;
    private final WriteOptions write;
    private final ColumnFamilyHandle counters;
    private final ColumnFamilyHandle blobs;
    private final ColumnFamilyHandle lru;
    private final ColumnFamilyHandle refs;
    private final ColumnFamilyHandle links;
    private final ColumnFamilyHandle manifests;
    private final ColumnFamilyHandle referrers;
    private final ColumnFamilyHandle tags;
    private final ColumnFamilyHandle repos;
    private final ColumnFamilyHandle pins;
    private final Object linkLock;
    private final Object tagLock;
    private final HotRecords hot;
    private final Object blobLock = new Object();
    private final AtomicLong blobBytes = new AtomicLong();
    private final List<LongConsumer> listeners = new CopyOnWriteArrayList<>();

    @SuppressWarnings("checkstyle:ParameterNumber")
    RocksCache(RocksDB db, WriteOptions write, ColumnFamilyHandle counters, ColumnFamilyHandle blobs,
               ColumnFamilyHandle lru, ColumnFamilyHandle refs, ColumnFamilyHandle links, ColumnFamilyHandle manifests,
               ColumnFamilyHandle referrers, ColumnFamilyHandle tags, ColumnFamilyHandle repos, ColumnFamilyHandle pins,
               Object linkLock, Object tagLock, HotRecords hot) {
        this.db = db;
        this.write = write;
        this.counters = counters;
        this.blobs = blobs;
        this.lru = lru;
        this.refs = refs;
        this.links = links;
        this.manifests = manifests;
        this.referrers = referrers;
        this.tags = tags;
        this.repos = repos;
        this.pins = pins;
        this.linkLock = linkLock;
        this.tagLock = tagLock;
        this.hot = hot;
    }

    /**
     * Reads the total, or, in a database written before the total, the lru order and the refs
     * existed, builds them once from the records (one scan of blobs, links and manifests).
     */
    void upgrade() throws RocksDBException {
        byte[] schema = db.get(counters, SCHEMA);
        if (schema != null && Codec.decodeTime(schema) >= SCHEMA_VERSION) {
            byte[] total = db.get(counters, BLOB_BYTES);
            blobBytes.set(total == null ? 0 : Codec.decodeTime(total));
            return;
        }
        long total = rebuild();
        db.put(counters, write, SCHEMA, Codec.encodeTime(SCHEMA_VERSION));
        if (total > 0) {
            log.info("metadata upgraded: eviction order and blob references built ({} bytes in blobs)", total);
        }
    }

    // --- blob records ---

    void putBlob(BlobRecord record) throws RocksDBException {
        synchronized (blobLock) {
            byte[] key = Keys.blob(record.digest());
            byte[] old = db.get(blobs, key);
            BlobRecord before = old == null ? null : Codec.decodeBlob(old);
            long total = blobBytes.get() + record.size() - (before == null ? 0 : before.size());
            try (WriteBatch batch = new WriteBatch()) {
                if (before != null) {
                    batch.delete(lru, Keys.lru(before.lastAccess(), before.digest()));
                }
                batch.put(blobs, key, Codec.encode(record));
                batch.put(lru, Keys.lru(record.lastAccess(), record.digest()), EMPTY);
                batch.put(counters, BLOB_BYTES, Codec.encodeTime(total));
                db.write(write, batch);
            }
            setTotal(total);
        }
    }

    void deleteBlob(Digest digest) throws RocksDBException {
        synchronized (blobLock) {
            byte[] old = db.get(blobs, Keys.blob(digest));
            if (old == null) {
                return;
            }
            BlobRecord before = Codec.decodeBlob(old);
            long total = blobBytes.get() - before.size();
            try (WriteBatch batch = new WriteBatch()) {
                batch.delete(blobs, Keys.blob(digest));
                batch.delete(lru, Keys.lru(before.lastAccess(), digest));
                batch.put(counters, BLOB_BYTES, Codec.encodeTime(total));
                db.write(write, batch);
            }
            setTotal(total);
        }
    }

    /** Moves the blob to {@code lastAccess} in the eviction order unless it is there or later already. */
    void touchBlob(Digest digest, long lastAccess) throws RocksDBException {
        synchronized (blobLock) {
            byte[] old = db.get(blobs, Keys.blob(digest));
            if (old == null) {
                return;
            }
            BlobRecord before = Codec.decodeBlob(old);
            if (before.lastAccess() >= lastAccess) {
                return;
            }
            BlobRecord after = new BlobRecord(digest, before.size(), before.mediaType(), before.createdAt(), lastAccess);
            try (WriteBatch batch = new WriteBatch()) {
                batch.delete(lru, Keys.lru(before.lastAccess(), digest));
                batch.put(lru, Keys.lru(lastAccess, digest), EMPTY);
                batch.put(blobs, Keys.blob(digest), Codec.encode(after));
                db.write(write, batch);
            }
        }
    }

    long blobBytes() {
        return blobBytes.get();
    }

    void addListener(LongConsumer listener) {
        listeners.add(listener);
    }

    private void setTotal(long total) {
        blobBytes.set(total);
        for (LongConsumer l : listeners) {
            try {
                l.accept(total);
            } catch (RuntimeException e) {
                log.warn("blob bytes listener failed", e);
            }
        }
    }

    List<LruEntry> lru(LruEntry after, int n) throws RocksDBException {
        byte[] start = after == null ? EMPTY : Keys.successor(Keys.lru(after.lastAccess(), after.digest()));
        return scan(lru, EMPTY, start, it -> {
            List<LruEntry> result = new ArrayList<>();
            for (; it.isValid() && result.size() < n; it.next()) {
                byte[] key = it.key();
                result.add(new LruEntry(Keys.lruTime(key), Keys.lruDigest(key)));
            }
            return result;
        });
    }

    // --- refs, maintained by the link and manifest writes ---

    void addRef(WriteBatch batch, Digest digest, boolean manifest, RepoName repo) throws RocksDBException {
        batch.put(refs, Keys.ref(digest, manifest ? Keys.REF_MANIFEST : Keys.REF_LINK, repo), EMPTY);
    }

    void dropRef(WriteBatch batch, Digest digest, boolean manifest, RepoName repo) throws RocksDBException {
        batch.delete(refs, Keys.ref(digest, manifest ? Keys.REF_MANIFEST : Keys.REF_LINK, repo));
    }

    List<BlobRef> refs(Digest digest) throws RocksDBException {
        byte[] prefix = Keys.refPrefix(digest);
        return scan(refs, prefix, prefix, it -> {
            List<BlobRef> result = new ArrayList<>();
            for (; it.isValid(); it.next()) {
                String rest = Keys.suffix(it.key(), prefix.length); // kind \0 repo
                result.add(new BlobRef(RepoName.of(rest.substring(2)), rest.startsWith(Keys.REF_MANIFEST)));
            }
            return result;
        });
    }

    /** Whether any repository links {@code digest}: one seek into its link refs. */
    boolean linkedAnywhere(Digest digest) throws RocksDBException {
        byte[] prefix = Keys.refPrefix(digest, Keys.REF_LINK);
        return scan(refs, prefix, prefix, RocksIterator::isValid);
    }

    Optional<BlobRecord> removeBlob(Digest digest, Predicate<RepoName> mayDrop) throws RocksDBException {
        synchronized (linkLock) {
            synchronized (tagLock) {
                synchronized (blobLock) {
                    List<BlobRef> held = refs(digest);
                    for (BlobRef r : held) {
                        if (!mayDrop.test(r.repo())) {
                            return Optional.empty();
                        }
                    }
                    byte[] old = db.get(blobs, Keys.blob(digest));
                    BlobRecord before = old == null ? null : Codec.decodeBlob(old);
                    long total = blobBytes.get() - (before == null ? 0 : before.size());
                    List<Runnable> invalidations = new ArrayList<>();
                    try (WriteBatch batch = new WriteBatch()) {
                        for (BlobRef r : held) {
                            dropRef(batch, digest, r.manifest(), r.repo());
                            if (r.manifest()) {
                                dropManifest(batch, r.repo(), digest, invalidations);
                            } else {
                                batch.delete(links, Keys.link(r.repo(), digest));
                                invalidations.add(() -> hot.linkChanged(r.repo(), digest));
                            }
                        }
                        if (before != null) {
                            batch.delete(blobs, Keys.blob(digest));
                            batch.delete(lru, Keys.lru(before.lastAccess(), digest));
                            batch.put(counters, BLOB_BYTES, Codec.encodeTime(total));
                        }
                        db.write(write, batch);
                    }
                    invalidations.forEach(Runnable::run);
                    if (before != null) {
                        setTotal(total);
                    }
                    return Optional.ofNullable(before);
                }
            }
        }
    }

    /**
     * The manifest, its referrer entry and the tags of {@code repo} pointing at it (caller holds
     * tagLock); adds the in-memory records to forget once the batch is written to {@code invalidations}.
     */
    private void dropManifest(WriteBatch batch, RepoName repo, Digest digest, List<Runnable> invalidations)
            throws RocksDBException {
        byte[] value = db.get(manifests, Keys.manifest(repo, digest));
        if (value == null) {
            return;
        }
        ManifestRecord m = Codec.decodeManifest(value);
        batch.delete(manifests, Keys.manifest(repo, digest));
        invalidations.add(() -> hot.manifestChanged(repo, digest));
        if (m.subject() != null) {
            batch.delete(referrers, Keys.referrer(repo, m.subject(), digest));
        }
        byte[] prefix = Keys.repoPrefix(repo);
        scan(tags, prefix, prefix, it -> {
            for (; it.isValid(); it.next()) {
                if (Codec.decodeTag(it.value()).digest().equals(digest)) {
                    batch.delete(tags, it.key());
                    String tag = Keys.suffix(it.key(), prefix.length);
                    invalidations.add(() -> hot.tagChanged(repo, tag));
                }
            }
            return null;
        });
    }

    // --- links with times ---

    List<LinkRecord> links(RepoName repo) throws RocksDBException {
        byte[] prefix = Keys.repoPrefix(repo);
        return scan(links, prefix, prefix, it -> {
            List<LinkRecord> result = new ArrayList<>();
            for (; it.isValid(); it.next()) {
                result.add(new LinkRecord(Digest.parse(Keys.suffix(it.key(), prefix.length)), linkTime(it.value())));
            }
            return result;
        });
    }

    boolean unlinkIfOlder(RepoName repo, Digest digest, long cutoff) throws RocksDBException {
        synchronized (linkLock) {
            byte[] value = db.get(links, Keys.link(repo, digest));
            if (value == null || linkTime(value) >= cutoff) {
                return false;
            }
            try (WriteBatch batch = new WriteBatch()) {
                batch.delete(links, Keys.link(repo, digest));
                dropRef(batch, digest, false, repo);
                db.write(write, batch);
            }
            hot.linkChanged(repo, digest);
            return true;
        }
    }

    /** A link's value is its time; links written before they had one are empty (time 0: old). */
    static long linkTime(byte[] value) {
        return value.length == 0 ? 0 : Codec.decodeTime(value);
    }

    // --- scans ---

    List<ManifestRecord> manifests(RepoName repo) throws RocksDBException {
        byte[] prefix = Keys.repoPrefix(repo);
        return scan(manifests, prefix, prefix, it -> {
            List<ManifestRecord> result = new ArrayList<>();
            for (; it.isValid(); it.next()) {
                result.add(Codec.decodeManifest(it.value()));
            }
            return result;
        });
    }

    List<CacheIndex.TagEntry> tags(RepoName repo) throws RocksDBException {
        byte[] prefix = Keys.repoPrefix(repo);
        return scan(tags, prefix, prefix, it -> {
            List<CacheIndex.TagEntry> result = new ArrayList<>();
            for (; it.isValid(); it.next()) {
                result.add(new CacheIndex.TagEntry(Keys.suffix(it.key(), prefix.length), Codec.decodeTag(it.value())));
            }
            return result;
        });
    }

    List<RepoName> repositories() throws RocksDBException {
        return scan(repos, EMPTY, EMPTY, it -> {
            List<RepoName> result = new ArrayList<>();
            for (; it.isValid(); it.next()) {
                result.add(RepoName.of(new String(it.key(), UTF_8)));
            }
            return result;
        });
    }

    void forEachBlob(Consumer<BlobRecord> visitor) throws RocksDBException {
        scan(blobs, EMPTY, EMPTY, it -> {
            for (; it.isValid(); it.next()) {
                visitor.accept(Codec.decodeBlob(it.value()));
            }
            return null;
        });
    }

    /** Clears and rebuilds lru, refs and the total from blobs, links and manifests, under every lock. */
    long rebuild() throws RocksDBException {
        synchronized (linkLock) {
            synchronized (tagLock) {
                synchronized (blobLock) {
                    try (WriteBatch batch = new WriteBatch()) {
                        clear(batch, lru);
                        clear(batch, refs);
                        long[] total = {0};
                        forEachBlob(r -> {
                            total[0] += r.size();
                            try {
                                batch.put(lru, Keys.lru(r.lastAccess(), r.digest()), EMPTY);
                            } catch (RocksDBException e) {
                                throw new MetadataException("rebuilding the eviction order: " + e.getMessage(), e);
                            }
                        });
                        // Whole scans (not per catalog entry): every link and manifest gets its ref.
                        for (boolean manifest : new boolean[] {false, true}) {
                            scan(manifest ? manifests : links, EMPTY, EMPTY, it -> {
                                for (; it.isValid(); it.next()) {
                                    String key = new String(it.key(), UTF_8);
                                    int sep = key.indexOf((char) Keys.SEP);
                                    addRef(batch, Digest.parse(key.substring(sep + 1)), manifest,
                                            RepoName.of(key.substring(0, sep)));
                                }
                                return null;
                            });
                        }
                        batch.put(counters, BLOB_BYTES, Codec.encodeTime(total[0]));
                        db.write(write, batch);
                        setTotal(total[0]);
                        return total[0];
                    }
                }
            }
        }
    }

    private void clear(WriteBatch batch, ColumnFamilyHandle cf) throws RocksDBException {
        scan(cf, EMPTY, EMPTY, it -> {
            for (; it.isValid(); it.next()) {
                batch.delete(cf, it.key());
            }
            return null;
        });
    }

    // --- pins ---

    boolean addPin(String image, long now) throws RocksDBException {
        byte[] key = image.getBytes(UTF_8);
        if (db.get(pins, key) != null) {
            return false;
        }
        db.put(pins, write, key, Codec.encodeTime(now));
        return true;
    }

    boolean removePin(String image) throws RocksDBException {
        byte[] key = image.getBytes(UTF_8);
        if (db.get(pins, key) == null) {
            return false;
        }
        db.delete(pins, write, key);
        return true;
    }

    List<String> pins() throws RocksDBException {
        return scan(pins, EMPTY, EMPTY, it -> {
            List<String> result = new ArrayList<>();
            for (; it.isValid(); it.next()) {
                result.add(new String(it.key(), UTF_8));
            }
            return result;
        });
    }

    interface ScanBody<T> {
        T consume(RocksIterator positioned) throws RocksDBException;
    }

    /** Runs {@code body} on an iterator over the keys starting with {@code prefix}, positioned at {@code start}. */
    <T> T scan(ColumnFamilyHandle cf, byte[] prefix, byte[] start, ScanBody<T> body) throws RocksDBException {
        byte[] upper = prefix.length == 0 ? null : Keys.upperBound(prefix);
        try (Slice bound = upper == null ? null : new Slice(upper);
             ReadOptions options = bound == null ? new ReadOptions() : new ReadOptions().setIterateUpperBound(bound);
             RocksIterator it = db.newIterator(cf, options)) {
            it.seek(start);
            T result = body.consume(it);
            it.status();
            return result;
        }
    }
}
