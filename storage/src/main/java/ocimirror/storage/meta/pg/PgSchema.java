package ocimirror.storage.meta.pg;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tables, created and migrated when a store opens. {@code schema_version} holds one row per
 * applied migration; migration {@code n} is {@code MIGRATIONS.get(n - 1)} and is never edited once
 * released (a change is a new migration). Several replicas may open at once: each migrates under
 * a transaction-scoped advisory lock, so one applies the migrations and the others, once it
 * commits, find them applied. A database migrated by a newer ocimirror is refused rather than
 * written with assumptions it no longer meets.
 *
 * <p>Text keys use the "C" collation whatever the database's locale: listings sort by bytes
 * (UTF-8 code points) as the RocksDB store does, and the registry API's pagination relies on it.
 */
final class PgSchema {
    private static final Logger log = LoggerFactory.getLogger(PgSchema.class);

    static final List<String> MIGRATIONS = List.of(
            // 1: everything MetadataStore keeps. Digests are "algorithm:hex"; times are epoch millis.
            """
            CREATE TABLE repositories (
                name        text COLLATE "C" PRIMARY KEY,
                created_at  bigint NOT NULL
            );
            CREATE TABLE links (
                repo        text COLLATE "C" NOT NULL,
                digest      text COLLATE "C" NOT NULL,
                linked_at   bigint NOT NULL,
                PRIMARY KEY (repo, digest)
            );
            CREATE INDEX links_by_digest ON links (digest);
            CREATE TABLE manifests (
                repo          text COLLATE "C" NOT NULL,
                digest        text COLLATE "C" NOT NULL,
                media_type    text,
                size          bigint NOT NULL,
                subject       text COLLATE "C",
                artifact_type text,
                annotations   text NOT NULL,
                PRIMARY KEY (repo, digest)
            );
            CREATE INDEX manifests_by_subject ON manifests (repo, subject, digest) WHERE subject IS NOT NULL;
            CREATE INDEX manifests_by_digest ON manifests (digest);
            CREATE TABLE tags (
                repo        text COLLATE "C" NOT NULL,
                tag         text COLLATE "C" NOT NULL,
                digest      text COLLATE "C" NOT NULL,
                media_type  text,
                size        bigint NOT NULL,
                fetched_at  bigint NOT NULL,
                checked_at  bigint NOT NULL,
                PRIMARY KEY (repo, tag)
            );
            CREATE INDEX tags_by_digest ON tags (repo, digest);
            CREATE TABLE blobs (
                digest      text COLLATE "C" PRIMARY KEY,
                size        bigint NOT NULL,
                media_type  text,
                created_at  bigint NOT NULL,
                last_access bigint NOT NULL
            );
            CREATE INDEX blobs_by_last_access ON blobs (last_access, digest);
            CREATE TABLE uploads (
                id          text COLLATE "C" PRIMARY KEY,
                repo        text NOT NULL,
                started_at  bigint NOT NULL
            );
            """,
            // 2: CacheIndex (PgIndex): the byte total in striped counter rows (a writer updates the
            // stripe of its digest, a reader sums them), pins, and upload sessions' owners. The
            // eviction order is blobs_by_last_access and the refs a query: nothing else to derive.
            // Sessions from before owners are the single node's (UploadRecord.LOCAL).
            """
            CREATE TABLE blob_bytes (
                stripe      int PRIMARY KEY,
                bytes       bigint NOT NULL
            );
            INSERT INTO blob_bytes (stripe, bytes) SELECT s, 0 FROM generate_series(0, 15) AS s;
            UPDATE blob_bytes SET bytes = (SELECT coalesce(sum(size), 0) FROM blobs) WHERE stripe = 0;
            CREATE TABLE pins (
                image       text COLLATE "C" PRIMARY KEY,
                pinned_at   bigint NOT NULL
            );
            ALTER TABLE uploads ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT 'local';
            CREATE INDEX uploads_by_owner ON uploads (owner);
            """);

    private PgSchema() {
    }

    /** The newest version this code knows. */
    static int latest() {
        return MIGRATIONS.size();
    }

    /** Brings the schema to {@link #latest()}; returns the version found before. Caller commits. */
    static int migrate(Connection c) throws SQLException {
        PgDb.lock(c, PgDb.MIGRATION_LOCK, 0);
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS schema_version (version int PRIMARY KEY, applied_at timestamptz"
                    + " NOT NULL DEFAULT now())");
            int found;
            try (ResultSet rs = s.executeQuery("SELECT coalesce(max(version), 0) FROM schema_version")) {
                rs.next();
                found = rs.getInt(1);
            }
            if (found > latest()) {
                throw new SQLException("the metadata schema is at version " + found + ", newer than this ocimirror"
                        + " knows (" + latest() + "): run the newer version, or a database of this version");
            }
            for (int v = found + 1; v <= latest(); v++) {
                s.execute(MIGRATIONS.get(v - 1));
                s.execute("INSERT INTO schema_version (version) VALUES (" + v + ")");
            }
            if (found < latest()) {
                log.info("metadata schema migrated from version {} to {}", found, latest());
            }
            return found;
        }
    }
}
