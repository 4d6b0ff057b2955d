package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.Options;
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
 * {@link MetadataStore} on RocksDB, one column family per kind of key (see {@link Keys} for the
 * key layout, {@link Codec} for the values). Multi-key changes ({@link #putManifest},
 * {@link #deleteManifest}, a first write to a repository) are one {@link WriteBatch}, so they
 * are atomic.
 *
 * <p>The blob records' side (the eviction order, the running byte total, which repositories hold
 * a blob, scans and pins: {@link CacheIndex}) lives in {@link RocksCache}; link and manifest
 * writes keep its {@code refs} index in their own batches.
 *
 * <p>Durability: the WAL is always on. Manifest and tag writes (what a client's push is
 * confirmed by) fsync the WAL, which also makes every earlier write durable; the other
 * writes (links, blob records, uploads) survive a process crash but may be lost with the
 * machine's power, which at worst makes a client upload a blob again.
 *
 * <p>Listings: {@code last} is exclusive; {@code n <= 0} returns no items, with {@code more}
 * true if any entry follows {@code last}. A {@code repos} entry is written with the first
 * link, manifest or tag of a repository and is not removed by deletes, so the catalog is one
 * scan of {@code repos}.
 *
 * <p>Ownership: this class owns every native object it creates (options, write options,
 * column-family handles, the DB) and closes them in reverse order of creation, handles
 * before the DB. Thread-safe; {@link #close} waits for calls in progress and later calls
 * throw {@link IllegalStateException} rather than touch freed native memory.
 */
public final class RocksMetadataStore implements MetadataStore, CacheIndex {
    private static final Logger log = LoggerFactory.getLogger(RocksMetadataStore.class);
    private static final byte[] EMPTY = new byte[0];

    static final String TAGS = "tags";
    static final String MANIFESTS = "manifests";
    static final String LINKS = "links";
    static final String REFERRERS = "referrers";
    static final String REPOS = "repos";
    static final String BLOBS = "blobs";
    static final String UPLOADS = "uploads";
    static final String LRU = "lru";
    static final String REFS = "refs";
    static final String PINS = "pins";
    private static final List<String> FAMILIES = List.of(TAGS, MANIFESTS, LINKS, REFERRERS, REPOS, BLOBS, UPLOADS,
            LRU, REFS, PINS);
    private static final int REPO_LOCKS = 64;

    static {
        RocksLibrary.load();
    }

    private final String path;
    private final Clock clock;
    /** Every native object, in creation order; closed from the end. */
    private final Deque<AutoCloseable> owned;
    private final RocksDB db;
    private final WriteOptions write;
    private final WriteOptions syncWrite;
    private final ColumnFamilyHandle tags;
    private final ColumnFamilyHandle manifests;
    private final ColumnFamilyHandle links;
    private final ColumnFamilyHandle referrers;
    private final ColumnFamilyHandle repos;
    private final ColumnFamilyHandle blobs;
    private final ColumnFamilyHandle uploads;
    /** Read lock: any call; write lock: close. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    /** Serialises tag writes with deleteManifest's scan, so no tag is left pointing at a deleted manifest. */
    private final Object tagLock = new Object();
    /** Serialises link writes with conditional unlinks and whole-blob removal. */
    private final Object linkLock = new Object();
    private final ReentrantLock[] repoLocks = new ReentrantLock[REPO_LOCKS];
    private final RocksCache cache;
    private final HotRecords hot = new HotRecords();
    /** Volatile: the in-memory reads check it without the lifecycle lock. */
    private volatile boolean closed;

    private RocksMetadataStore(String path, Clock clock, Deque<AutoCloseable> owned, RocksDB db, WriteOptions write,
                               WriteOptions syncWrite, Map<String, ColumnFamilyHandle> handles) {
        this.path = path;
        this.clock = clock;
        this.owned = owned;
        this.db = db;
        this.write = write;
        this.syncWrite = syncWrite;
        this.tags = handles.get(TAGS);
        this.manifests = handles.get(MANIFESTS);
        this.links = handles.get(LINKS);
        this.referrers = handles.get(REFERRERS);
        this.repos = handles.get(REPOS);
        this.blobs = handles.get(BLOBS);
        this.uploads = handles.get(UPLOADS);
        for (int i = 0; i < REPO_LOCKS; i++) {
            repoLocks[i] = new ReentrantLock();
        }
        this.cache = new RocksCache(db, write, handles.get(new String(RocksDB.DEFAULT_COLUMN_FAMILY, UTF_8)), blobs,
                handles.get(LRU), handles.get(REFS), links, manifests, referrers, tags, repos, handles.get(PINS),
                linkLock, tagLock, hot);
    }

    /**
     * Opens (creating if needed) the database in {@code dir}. RocksDB locks the directory, so a
     * second process, or a second open in this one, fails here.
     */
    public static RocksMetadataStore open(Path dir, Clock clock) throws IOException {
        requireNonNull(dir, "dir");
        requireNonNull(clock, "clock");
        Files.createDirectories(dir);
        String path = dir.toAbsolutePath().toString();
        Deque<AutoCloseable> owned = new ArrayDeque<>();
        try {
            RocksOptions options = RocksOptions.create(owned);
            DBOptions dbOptions = options.db();
            ColumnFamilyOptions cfOptions = options.families();
            WriteOptions write = own(owned, new WriteOptions().setDisableWAL(false).setSync(false));
            WriteOptions syncWrite = own(owned, new WriteOptions().setDisableWAL(false).setSync(true));

            // Open every family on disk too (RocksDB insists), e.g. ones a later version added.
            Set<String> names = new LinkedHashSet<>();
            names.add(new String(RocksDB.DEFAULT_COLUMN_FAMILY, UTF_8));
            names.addAll(FAMILIES);
            names.addAll(existingFamilies(path));
            List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
            for (String name : names) {
                descriptors.add(new ColumnFamilyDescriptor(name.getBytes(UTF_8), cfOptions));
            }
            List<ColumnFamilyHandle> handles = new ArrayList<>();
            RocksDB db;
            try {
                db = own(owned, RocksDB.open(dbOptions, path, descriptors, handles));
            } finally {
                handles.forEach(h -> own(owned, h)); // after the DB: closed before it
            }
            Map<String, ColumnFamilyHandle> byName = new HashMap<>();
            for (ColumnFamilyHandle h : handles) {
                byName.put(new String(h.getName(), UTF_8), h);
            }
            RocksMetadataStore store = new RocksMetadataStore(path, clock, owned, db, write, syncWrite, byName);
            store.cache.upgrade();
            return store;
        } catch (RocksDBException | RuntimeException e) {
            closeAll(owned);
            throw new IOException("opening metadata store " + path + ": " + e.getMessage(), e);
        }
    }

    private static List<String> existingFamilies(String path) throws RocksDBException {
        if (!Files.exists(Path.of(path, "CURRENT"))) {
            return List.of();
        }
        try (Options options = new Options()) {
            List<String> names = new ArrayList<>();
            for (byte[] name : RocksDB.listColumnFamilies(options, path)) {
                names.add(new String(name, UTF_8));
            }
            return names;
        }
    }

    // --- links ---

    /** Links (or re-links, renewing its time for garbage collection's grace period). */
    @Override
    public void linkBlob(RepoName repo, Digest digest) {
        call(() -> {
            synchronized (linkLock) {
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(links, Keys.link(repo, digest), Codec.encodeTime(clock.millis()));
                    cache.addRef(batch, digest, false, repo);
                    addRepoIfNew(batch, repo);
                    db.write(write, batch);
                }
                hot.linkChanged(repo, digest);
            }
            return null;
        });
    }

    @Override
    public boolean isBlobLinked(RepoName repo, Digest digest) {
        return hot.linked(repo, digest, k -> call(() -> db.get(links, Keys.link(repo, digest)) != null));
    }

    @Override
    public boolean isBlobLinkedAnywhere(Digest digest) {
        return call(() -> cache.linkedAnywhere(digest));
    }

    @Override
    public boolean unlinkBlob(RepoName repo, Digest digest) {
        return call(() -> {
            synchronized (linkLock) {
                if (db.get(links, Keys.link(repo, digest)) == null) {
                    return false;
                }
                try (WriteBatch batch = new WriteBatch()) {
                    batch.delete(links, Keys.link(repo, digest));
                    cache.dropRef(batch, digest, false, repo);
                    db.write(write, batch);
                }
                hot.linkChanged(repo, digest);
                return true;
            }
        });
    }

    // --- manifests ---

    @Override
    public void putManifest(RepoName repo, ManifestRecord manifest) {
        requireNonNull(manifest, "manifest");
        call(() -> {
            byte[] value = Codec.encode(manifest);
            try (WriteBatch batch = new WriteBatch()) {
                batch.put(manifests, Keys.manifest(repo, manifest.digest()), value);
                cache.addRef(batch, manifest.digest(), true, repo);
                if (manifest.subject() != null) {
                    batch.put(referrers, Keys.referrer(repo, manifest.subject(), manifest.digest()), value);
                }
                addRepoIfNew(batch, repo);
                db.write(syncWrite, batch);
            }
            hot.manifestChanged(repo, manifest.digest());
            return null;
        });
    }

    @Override
    public Optional<ManifestRecord> getManifest(RepoName repo, Digest digest) {
        requireOpen();
        return hot.manifest(repo, digest, k -> call(
                () -> Optional.ofNullable(db.get(manifests, Keys.manifest(repo, digest))).map(Codec::decodeManifest)));
    }

    @Override
    public boolean deleteManifest(RepoName repo, Digest digest) {
        return call(() -> {
            synchronized (tagLock) {
                byte[] value = db.get(manifests, Keys.manifest(repo, digest));
                if (value == null) {
                    return false;
                }
                ManifestRecord manifest = Codec.decodeManifest(value);
                List<String> droppedTags = new ArrayList<>();
                try (WriteBatch batch = new WriteBatch()) {
                    batch.delete(manifests, Keys.manifest(repo, digest));
                    cache.dropRef(batch, digest, true, repo);
                    if (manifest.subject() != null) {
                        batch.delete(referrers, Keys.referrer(repo, manifest.subject(), digest));
                    }
                    byte[] prefix = Keys.repoPrefix(repo);
                    scan(tags, prefix, prefix, it -> {
                        for (; it.isValid(); it.next()) {
                            if (Codec.decodeTag(it.value()).digest().equals(digest)) {
                                batch.delete(tags, it.key());
                                droppedTags.add(Keys.suffix(it.key(), prefix.length));
                            }
                        }
                        return null;
                    });
                    db.write(syncWrite, batch);
                }
                hot.manifestChanged(repo, digest);
                droppedTags.forEach(t -> hot.tagChanged(repo, t));
                return true;
            }
        });
    }

    @Override
    public List<ManifestRecord> referrers(RepoName repo, Digest subject) {
        return call(() -> {
            byte[] prefix = Keys.referrerPrefix(repo, subject);
            return scan(referrers, prefix, prefix, it -> {
                List<ManifestRecord> result = new ArrayList<>();
                for (; it.isValid(); it.next()) {
                    result.add(Codec.decodeManifest(it.value()));
                }
                return List.copyOf(result);
            });
        });
    }

    // --- tags ---

    @Override
    public void putTag(RepoName repo, String tag, TagRecord record) {
        requireTag(tag);
        requireNonNull(record, "record");
        call(() -> {
            synchronized (tagLock) {
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(tags, Keys.tag(repo, tag), Codec.encode(record));
                    addRepoIfNew(batch, repo);
                    db.write(syncWrite, batch);
                }
                hot.tagChanged(repo, tag);
            }
            return null;
        });
    }

    @Override
    public Optional<TagRecord> getTag(RepoName repo, String tag) {
        requireOpen();
        // The tag's grammar is checked on a miss only: a request's tag was parsed already, and a
        // hit is the hot path of every pull by tag.
        return hot.tag(repo, tag, k -> !Reference.Tag.isValid(tag) ? Optional.empty() : call(
                () -> Optional.ofNullable(db.get(tags, Keys.tag(repo, tag))).map(Codec::decodeTag)));
    }

    @Override
    public boolean deleteTag(RepoName repo, String tag) {
        if (!Reference.Tag.isValid(tag)) {
            return false;
        }
        return call(() -> {
            synchronized (tagLock) {
                boolean deleted = deleteIfPresent(tags, Keys.tag(repo, tag), syncWrite);
                hot.tagChanged(repo, tag);
                return deleted;
            }
        });
    }

    @Override
    public Page<String> listTags(RepoName repo, String last, int n) {
        return call(() -> page(tags, Keys.repoPrefix(repo), last, n));
    }

    // --- repositories ---

    @Override
    public boolean repositoryExists(RepoName repo) {
        return call(() -> db.get(repos, Keys.repo(repo)) != null);
    }

    @Override
    public Page<String> listRepositories(String last, int n) {
        return call(() -> page(repos, EMPTY, last, n));
    }

    // --- blob records ---

    @Override
    public void putBlob(BlobRecord record) {
        requireNonNull(record, "record");
        call(() -> {
            cache.putBlob(record);
            return null;
        });
    }

    @Override
    public Optional<BlobRecord> getBlob(Digest digest) {
        return call(() -> Optional.ofNullable(db.get(blobs, Keys.blob(digest))).map(Codec::decodeBlob));
    }

    @Override
    public void deleteBlob(Digest digest) {
        call(() -> {
            cache.deleteBlob(digest);
            return null;
        });
    }

    @Override
    public void touchBlob(Digest digest, long lastAccess) {
        call(() -> {
            cache.touchBlob(digest, lastAccess);
            return null;
        });
    }

    @Override
    public <T> T inRepoLock(RepoName repo, Supplier<T> body) {
        ReentrantLock lock = repoLocks[Math.floorMod(repo.hashCode(), REPO_LOCKS)];
        lock.lock();
        try {
            return body.get();
        } finally {
            lock.unlock();
        }
    }

    // --- CacheIndex ---

    @Override
    public long blobBytes() {
        return cache.blobBytes();
    }

    @Override
    public void addBlobBytesListener(LongConsumer listener) {
        cache.addListener(requireNonNull(listener, "listener"));
    }

    @Override
    public List<LruEntry> lru(LruEntry after, int n) {
        return call(() -> cache.lru(after, n));
    }

    @Override
    public List<BlobRef> refs(Digest digest) {
        return call(() -> cache.refs(digest));
    }

    @Override
    public Optional<BlobRecord> removeBlob(Digest digest, Predicate<RepoName> mayDrop) {
        requireNonNull(mayDrop, "mayDrop");
        return call(() -> cache.removeBlob(digest, mayDrop));
    }

    @Override
    public List<LinkRecord> links(RepoName repo) {
        return call(() -> cache.links(repo));
    }

    @Override
    public boolean unlinkIfOlder(RepoName repo, Digest digest, long cutoff) {
        return call(() -> cache.unlinkIfOlder(repo, digest, cutoff));
    }

    @Override
    public List<ManifestRecord> manifests(RepoName repo) {
        return call(() -> cache.manifests(repo));
    }

    @Override
    public List<TagEntry> tags(RepoName repo) {
        return call(() -> cache.tags(repo));
    }

    @Override
    public List<RepoName> repositories() {
        return call(cache::repositories);
    }

    @Override
    public void forEachBlob(Consumer<BlobRecord> visitor) {
        requireNonNull(visitor, "visitor");
        call(() -> {
            cache.forEachBlob(visitor);
            return null;
        });
    }

    @Override
    public long rebuildIndex() {
        return call(cache::rebuild);
    }

    @Override
    public boolean addPin(String image) {
        requireNonNull(image, "image");
        return call(() -> cache.addPin(image, clock.millis()));
    }

    @Override
    public boolean removePin(String image) {
        requireNonNull(image, "image");
        return call(() -> cache.removePin(image));
    }

    @Override
    public List<String> pins() {
        return call(cache::pins);
    }

    // --- uploads ---

    @Override
    public void putUpload(UploadRecord upload) {
        requireNonNull(upload, "upload");
        call(() -> {
            db.put(uploads, write, Keys.upload(upload.id()), Codec.encode(upload));
            return null;
        });
    }

    @Override
    public Optional<UploadRecord> getUpload(String id) {
        requireNonNull(id, "id");
        return call(() -> Optional.ofNullable(db.get(uploads, Keys.upload(id))).map(Codec::decodeUpload));
    }

    @Override
    public void deleteUpload(String id) {
        requireNonNull(id, "id");
        call(() -> {
            db.delete(uploads, write, Keys.upload(id));
            return null;
        });
    }

    @Override
    public void clearUploads() {
        clearUploadsOf(null);
    }

    @Override
    public void clearUploads(String owner) {
        clearUploadsOf(requireNonNull(owner, "owner"));
    }

    /** Every session, or {@code owner}'s (null: all). One scan at start-up: sessions are few. */
    private void clearUploadsOf(String owner) {
        call(() -> {
            try (WriteBatch batch = new WriteBatch()) {
                scan(uploads, EMPTY, EMPTY, it -> {
                    for (; it.isValid(); it.next()) {
                        if (owner == null || owner.equals(Codec.decodeUpload(it.value()).owner())) {
                            batch.delete(uploads, it.key());
                        }
                    }
                    return null;
                });
                db.write(write, batch);
            }
            return null;
        });
    }

    /** Syncs the WAL and frees every native object, handles before the DB. Idempotent. */
    @Override
    public void close() {
        Lock lock = lifecycle.writeLock();
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            try {
                db.syncWal();
            } catch (RocksDBException e) {
                log.warn("syncing the metadata WAL at close: {}", e.getMessage());
            }
            closeAll(owned);
        } finally {
            lock.unlock();
        }
    }

    // --- helpers ---

    private interface DbCall<T> {
        T run() throws RocksDBException;
    }

    private interface ScanBody<T> {
        T consume(RocksIterator positioned) throws RocksDBException;
    }

    /** What {@link #call} checks, for the reads that may not reach it. */
    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("metadata store is closed");
        }
    }

    private <T> T call(DbCall<T> body) {
        Lock lock = lifecycle.readLock();
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("metadata store is closed");
            }
            return body.run();
        } catch (RocksDBException e) {
            throw new MetadataException("metadata store: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code body} on an iterator over the keys starting with {@code prefix}, positioned at {@code start}. */
    private <T> T scan(ColumnFamilyHandle cf, byte[] prefix, byte[] start, ScanBody<T> body) throws RocksDBException {
        byte[] upper = Keys.upperBound(prefix);
        try (Slice bound = upper == null ? null : new Slice(upper);
             ReadOptions options = bound == null ? new ReadOptions() : new ReadOptions().setIterateUpperBound(bound);
             RocksIterator it = db.newIterator(cf, options)) {
            it.seek(start);
            T result = body.consume(it);
            it.status(); // an iterator ends early on an I/O error: surface it
            return result;
        }
    }

    private Page<String> page(ColumnFamilyHandle cf, byte[] prefix, String last, int n) throws RocksDBException {
        byte[] start = last == null ? prefix : Keys.successor(Keys.append(prefix, last));
        return scan(cf, prefix, start, it -> {
            List<String> items = new ArrayList<>(Math.max(0, Math.min(n, 64)));
            for (; it.isValid() && items.size() < n; it.next()) {
                items.add(Keys.suffix(it.key(), prefix.length));
            }
            return new Page<>(List.copyOf(items), it.isValid());
        });
    }

    private boolean deleteIfPresent(ColumnFamilyHandle cf, byte[] key, WriteOptions options) throws RocksDBException {
        if (db.get(cf, key) == null) {
            return false;
        }
        db.delete(cf, options, key);
        return true;
    }

    /** Adds the repository to {@code repos} unless it is there already (keeping its creation time). */
    private void addRepoIfNew(WriteBatch batch, RepoName repo) throws RocksDBException {
        byte[] key = Keys.repo(repo);
        if (db.get(repos, key) == null) {
            batch.put(repos, key, Codec.encodeTime(clock.millis()));
        }
    }

    private static void requireTag(String tag) {
        if (!Reference.Tag.isValid(tag)) {
            throw OciError.TAG_INVALID.exception("invalid tag: " + tag);
        }
    }

    private static <T extends AutoCloseable> T own(Deque<AutoCloseable> owned, T resource) {
        owned.push(resource);
        return resource;
    }

    /** Closes from the most recently created. */
    private static void closeAll(Deque<AutoCloseable> owned) {
        while (!owned.isEmpty()) {
            AutoCloseable resource = owned.pop();
            try {
                resource.close();
            } catch (Exception e) {
                log.warn("closing {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
    }

    @Override
    public String toString() {
        return "RocksMetadataStore[" + path + "]";
    }
}
