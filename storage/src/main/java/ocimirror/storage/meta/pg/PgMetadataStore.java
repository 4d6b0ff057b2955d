package ocimirror.storage.meta.pg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.BlobRef;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.LinkRecord;
import ocimirror.storage.meta.LruEntry;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.Page;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * {@link MetadataStore} in PostgreSQL, shared by every replica that opens the same database: a
 * write is committed before the call returns and every replica's next read sees it (no cache
 * here: {@link CachedPgMetadataStore} goes in front, as {@code HotRecords} sits inside the RocksDB
 * store). Every write of a tag, manifest record or link announces itself in its transaction
 * ({@link PgChanges}), which keeps that cache right on every replica.
 * Tables: see {@link PgSchema}, created or migrated at {@link #open}.
 *
 * <p>How each invariant {@link ocimirror.storage.meta.RocksMetadataStore} keeps with a batch or a
 * lock is kept here, across replicas:
 * <ul>
 *   <li>a first write to a repository adds it to the catalog in the same {@code WriteBatch}
 *       ({@code addRepoIfNew}) → the write is one statement that inserts the {@code repositories}
 *       row {@code ON CONFLICT DO NOTHING} in a data-modifying {@code WITH}: one atomic statement;</li>
 *   <li>{@code putManifest}'s batch of manifest, referrer entry and refs → one row: the referrer
 *       entry is the row's {@code subject} column (indexed), the refs a query of links and
 *       manifests by digest, so there is nothing to keep in step;</li>
 *   <li>{@code deleteManifest} deletes the manifest and the repository's tags on it under
 *       {@code tagLock}, which {@code putTag} takes → one statement deleting both; a
 *       {@code putTag} racing it either commits first (its row is then locked and deleted) or
 *       lands after (as it would after the lock): the outcome is always that of one order;</li>
 *   <li>{@code linkBlob}/{@code unlinkBlob} under {@code linkLock} (with the conditional unlink
 *       of garbage collection) → upsert/delete of the {@code links} row: its row lock orders
 *       them, and a conditional delete re-checks {@code linked_at} on the row it waited for;</li>
 *   <li>{@code touchBlob}'s read-compare-write under {@code blobLock} → one
 *       {@code UPDATE ... WHERE last_access < ?}, re-checked after any concurrent update;</li>
 *   <li>{@code inRepoLock}'s per-repository {@code ReentrantLock} (one JVM) → a transaction-scoped
 *       advisory lock {@code (REPO_LOCK, repo.hashCode())} that every replica waits for, held by a
 *       transaction in which the body's own calls run (see {@link PgDb}). So the body's writes
 *       commit together when it returns, and none does if it throws (RocksDB keeps each write as
 *       it is made; the contract suite records the difference). A replica that dies mid-body
 *       drops the lock with its connection. {@code String.hashCode} is specified, so every
 *       replica computes the same key; a collision only serialises two repositories.</li>
 *   <li>{@link CacheIndex}'s derived data ({@code lru}, {@code refs}, the total, kept in the
 *       records' batches) → the eviction order is the index {@code blobs_by_last_access} and the
 *       refs a query of links and manifests, so they cannot drift; the total is counter rows
 *       written in each record write's statement (see {@link PgIndex});</li>
 *   <li>{@code removeBlob} reads the refs, asks {@code mayDrop} and writes one batch under
 *       {@code linkLock}, {@code tagLock} and {@code blobLock} → one transaction holding the
 *       blob's advisory lock {@code (BLOB_LOCK, digest)} exclusive, which {@code linkBlob} and
 *       {@code putManifest} hold shared until they commit: a link committed first is seen (a
 *       hosted one refuses the removal), one made meanwhile waits and lands after it. No
 *       replica's garbage collection or eviction deletes a link it did not see;</li>
 *   <li>{@code putBlob}/{@code deleteBlob}'s read of the old size and write of the total under
 *       {@code blobLock} → the same advisory lock exclusive, so two replicas recording one blob
 *       count it once;</li>
 *   <li>{@code unlinkIfOlder} under {@code linkLock} → one conditional {@code DELETE}, re-checked
 *       on a row a concurrent link renewed (which then stays);</li>
 *   <li>{@code rebuildIndex} under every lock → the counter table locked {@code EXCLUSIVE} while
 *       it is set to the sum of the records: a record write waiting on it adds its difference
 *       after;</li>
 *   <li>start-up's {@code clearUploads()} on a store only this process uses → sessions carry an
 *       owner (the replica) and start-up forgets its own ({@link #clearUploads(String)}).</li>
 * </ul>
 *
 * <p>Threading: as the interface says, callers are on the storage executor: every call may block
 * on the network and on a pool connection (at most {@link PgSettings#maxConnections}). Thread-safe.
 * Errors are {@link ocimirror.storage.meta.MetadataException}s; calls after {@link #close} throw
 * {@link IllegalStateException}.
 */
public final class PgMetadataStore implements MetadataStore, CacheIndex {
    private final PgDb db;
    private final Clock clock;
    private final String description;
    private final PgIndex index;

    private PgMetadataStore(PgDb db, Clock clock, String description) {
        this.db = db;
        this.clock = clock;
        this.description = description;
        this.index = new PgIndex(db);
    }

    /**
     * Connects (the password read from {@link PgSettings#passwordFile}), creates or migrates the
     * schema, and returns the store. Safe to call from several replicas at once.
     */
    public static PgMetadataStore open(PgSettings settings, Clock clock) throws IOException {
        return open(settings, clock, Duration.ofSeconds(10));
    }

    /** As {@link #open(PgSettings, Clock)}, a call waiting at most {@code connectionTimeout} for a connection. */
    static PgMetadataStore open(PgSettings settings, Clock clock, Duration connectionTimeout) throws IOException {
        requireNonNull(settings, "settings");
        requireNonNull(clock, "clock");
        String password = Files.readString(settings.passwordFile(), UTF_8).strip();
        String where = PgSettings.redacted(settings.url());
        HikariConfig config = new HikariConfig();
        config.setPoolName("ocimirror-metadata");
        config.setJdbcUrl(settings.url());
        config.setUsername(settings.user());
        config.setPassword(password);
        config.setMaximumPoolSize(settings.maxConnections());
        config.setMinimumIdle(1);
        config.setConnectionTimeout(connectionTimeout.toMillis());
        config.setAutoCommit(true);
        config.addDataSourceProperty("ApplicationName", "ocimirror");
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IOException("connecting to the metadata database " + where + ": " + e.getMessage(), e);
        }
        PgDb db = new PgDb(pool);
        try {
            db.transaction(PgSchema::migrate);
        } catch (RuntimeException e) {
            db.close();
            throw new IOException("preparing the metadata schema in " + where + ": " + e.getMessage(), e);
        }
        try {
            return new PgMetadataStore(db, clock, where);
        } catch (RuntimeException e) {
            db.close();
            throw new IOException("reading the blob byte total in " + where + ": " + e.getMessage(), e);
        }
    }

    /** The schema version this code writes (the migrations it knows). */
    /** Every call is a round trip to PostgreSQL. */
    @Override
    public boolean mayBlock() {
        return true;
    }

    public static int schemaVersion() {
        return PgSchema.latest();
    }

    // --- links ---

    @Override
    public void linkBlob(RepoName repo, Digest digest) {
        db.transaction(c -> {
            PgBlobs.link(c, repo, digest, clock.millis());
            PgChanges.send(c, db.origin(), PgChanges.link(repo, digest));
            return null;
        });
    }

    @Override
    public boolean isBlobLinked(RepoName repo, Digest digest) {
        return db.call(c -> PgBlobs.isLinked(c, repo, digest));
    }

    @Override
    public boolean unlinkBlob(RepoName repo, Digest digest) {
        return db.transaction(c -> announced(PgBlobs.unlink(c, repo, digest), c, PgChanges.link(repo, digest)));
    }

    @Override
    public boolean isBlobLinkedAnywhere(Digest digest) {
        return db.call(c -> PgBlobs.isLinkedAnywhere(c, digest));
    }

    // --- manifests ---

    @Override
    public void putManifest(RepoName repo, ManifestRecord manifest) {
        requireNonNull(manifest, "manifest");
        db.transaction(c -> {
            PgManifests.putManifest(c, repo, manifest, clock.millis());
            PgChanges.send(c, db.origin(), PgChanges.manifest(repo, manifest.digest()));
            return null;
        });
    }

    @Override
    public Optional<ManifestRecord> getManifest(RepoName repo, Digest digest) {
        return db.call(c -> PgManifests.getManifest(c, repo, digest));
    }

    @Override
    public boolean deleteManifest(RepoName repo, Digest digest) {
        return db.transaction(c -> {
            List<String> droppedTags = PgManifests.deleteManifest(c, repo, digest);
            if (droppedTags == null) {
                return false;
            }
            List<String> changes = new ArrayList<>();
            changes.add(PgChanges.manifest(repo, digest));
            droppedTags.forEach(t -> changes.add(PgChanges.tag(repo, t)));
            PgChanges.send(c, db.origin(), changes);
            return true;
        });
    }

    @Override
    public List<ManifestRecord> referrers(RepoName repo, Digest subject) {
        return db.call(c -> PgManifests.referrers(c, repo, subject));
    }

    // --- tags ---

    @Override
    public void putTag(RepoName repo, String tag, TagRecord record) {
        if (!Reference.Tag.isValid(tag)) {
            throw OciError.TAG_INVALID.exception("invalid tag: " + tag);
        }
        requireNonNull(record, "record");
        db.transaction(c -> {
            PgManifests.putTag(c, repo, tag, record, clock.millis());
            PgChanges.send(c, db.origin(), PgChanges.tag(repo, tag));
            return null;
        });
    }

    @Override
    public Optional<TagRecord> getTag(RepoName repo, String tag) {
        return db.call(c -> Reference.Tag.isValid(tag) ? PgManifests.getTag(c, repo, tag) : Optional.empty());
    }

    @Override
    public boolean deleteTag(RepoName repo, String tag) {
        return db.transaction(c -> Reference.Tag.isValid(tag)
                && announced(PgManifests.deleteTag(c, repo, tag), c, PgChanges.tag(repo, tag)));
    }

    @Override
    public Page<String> listTags(RepoName repo, String last, int n) {
        return db.call(c -> PgManifests.listTags(c, repo, last, n));
    }

    // --- repositories ---

    @Override
    public boolean repositoryExists(RepoName repo) {
        return db.call(c -> PgManifests.repositoryExists(c, repo));
    }

    @Override
    public Page<String> listRepositories(String last, int n) {
        return db.call(c -> PgManifests.listRepositories(c, last, n));
    }

    // --- blob records ---

    @Override
    public void putBlob(BlobRecord record) {
        requireNonNull(record, "record");
        index.putBlob(record);
    }

    @Override
    public Optional<BlobRecord> getBlob(Digest digest) {
        return db.call(c -> PgBlobs.getBlob(c, digest));
    }

    @Override
    public void deleteBlob(Digest digest) {
        index.deleteBlob(digest);
    }

    @Override
    public void touchBlob(Digest digest, long lastAccess) {
        db.call(c -> {
            PgBlobs.touch(c, digest, lastAccess);
            return null;
        });
    }

    @Override
    public <T> T inRepoLock(RepoName repo, Supplier<T> body) {
        requireNonNull(body, "body");
        return db.withLock(PgDb.REPO_LOCK, repo.value().hashCode(), body);
    }

    // --- CacheIndex ---

    /** This replica's view of the cluster's total: see {@link #refreshBlobBytes()}. A memory read. */
    @Override
    public long blobBytes() {
        return index.blobBytes();
    }

    /**
     * Called with the cluster's total after each of this replica's record writes (on the writing
     * thread), and when {@link #refreshBlobBytes()} finds that other replicas moved it.
     */
    @Override
    public void addBlobBytesListener(LongConsumer listener) {
        index.addListener(requireNonNull(listener, "listener"));
    }

    /**
     * Reads the cluster's total, which other replicas' writes move too, into {@link #blobBytes()}
     * (telling the listeners if it changed). One statement over {@value PgIndex#STRIPES} rows.
     */
    public long refreshBlobBytes() {
        return index.refreshBlobBytes();
    }

    @Override
    public List<LruEntry> lru(LruEntry after, int n) {
        return index.lru(after, n);
    }

    @Override
    public List<BlobRef> refs(Digest digest) {
        return index.refs(digest);
    }

    @Override
    public Optional<BlobRecord> removeBlob(Digest digest, Predicate<RepoName> mayDrop) {
        requireNonNull(mayDrop, "mayDrop");
        return index.removeBlob(digest, mayDrop);
    }

    @Override
    public List<LinkRecord> links(RepoName repo) {
        return db.call(c -> PgScans.links(c, repo));
    }

    @Override
    public boolean unlinkIfOlder(RepoName repo, Digest digest, long cutoff) {
        return db.transaction(c -> PgScans.unlinkIfOlder(c, db.origin(), repo, digest, cutoff));
    }

    @Override
    public List<ManifestRecord> manifests(RepoName repo) {
        return db.call(c -> PgManifests.manifests(c, repo));
    }

    @Override
    public List<TagEntry> tags(RepoName repo) {
        return db.call(c -> PgScans.tags(c, repo));
    }

    @Override
    public List<RepoName> repositories() {
        return db.call(PgScans::repositories);
    }

    /** In digest order, a page of records per statement: no connection is held while the visitor runs. */
    @Override
    public void forEachBlob(Consumer<BlobRecord> visitor) {
        requireNonNull(visitor, "visitor");
        Digest after = null;
        while (true) {
            Digest from = after;
            List<BlobRecord> page = db.call(c -> PgScans.blobPage(c, from));
            page.forEach(visitor);
            if (page.size() < PgScans.BLOB_PAGE) {
                return;
            }
            after = page.get(page.size() - 1).digest();
        }
    }

    /** The eviction order and the refs are indexes and queries here: only the total is rebuilt. */
    @Override
    public long rebuildIndex() {
        return index.rebuild();
    }

    @Override
    public boolean addPin(String image) {
        requireNonNull(image, "image");
        return db.call(c -> PgScans.addPin(c, image, clock.millis()));
    }

    @Override
    public boolean removePin(String image) {
        requireNonNull(image, "image");
        return db.call(c -> PgScans.removePin(c, image));
    }

    @Override
    public List<String> pins() {
        return db.call(PgScans::pins);
    }

    /** The blob-record side, for tests in this package. */
    PgIndex index() {
        return index;
    }

    // --- upload sessions ---

    @Override
    public void putUpload(UploadRecord upload) {
        requireNonNull(upload, "upload");
        db.call(c -> {
            PgBlobs.putUpload(c, upload);
            return null;
        });
    }

    @Override
    public Optional<UploadRecord> getUpload(String id) {
        requireNonNull(id, "id");
        return db.call(c -> PgBlobs.getUpload(c, id));
    }

    @Override
    public void deleteUpload(String id) {
        requireNonNull(id, "id");
        db.call(c -> {
            PgBlobs.deleteUpload(c, id);
            return null;
        });
    }

    /**
     * Forgets every upload session in the database, the other replicas' too: for a whole-cluster
     * reset. A replica's start-up calls {@link #clearUploads(String)} with its own id.
     */
    @Override
    public void clearUploads() {
        db.call(c -> {
            PgBlobs.clearUploads(c);
            return null;
        });
    }

    @Override
    public void clearUploads(String owner) {
        requireNonNull(owner, "owner");
        db.call(c -> {
            PgBlobs.clearUploads(c, owner);
            return null;
        });
    }

    /** Announces {@code change} in {@code c}'s transaction if {@code changed}; returns {@code changed}. */
    private boolean announced(boolean changed, Connection c, String change) throws SQLException {
        if (changed) {
            PgChanges.send(c, db.origin(), change);
        }
        return changed;
    }

    /** What this store's change notifications carry as their sender. */
    String origin() {
        return db.origin();
    }

    /** The schema version recorded in the database (for tests and diagnostics). */
    int storedSchemaVersion() {
        return db.call(PgMetadataStore::readVersion);
    }

    private static int readVersion(Connection c) throws SQLException {
        try (var s = c.createStatement(); var rs = s.executeQuery("SELECT max(version) FROM schema_version")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Closes the pool. Idempotent. */
    @Override
    public void close() {
        db.close();
    }

    @Override
    public String toString() {
        return "PgMetadataStore[" + description + "]";
    }
}
