package ocimirror.storage.meta.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * Repository links, blob record reads and touches, and upload sessions: each operation is one
 * statement. Blob record writes change the byte total: {@link PgIndex}.
 */
final class PgBlobs {
    private PgBlobs() {
    }

    /**
     * Links, or renews the link's time (garbage collection's grace period counts from it). Holds
     * the blob's lock shared until it commits, so a whole-blob removal either sees the link or
     * comes before it ({@link PgIndex#removeBlob}).
     */
    static void link(Connection c, RepoName repo, Digest digest, long now) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(PgManifests.WITH_REPO + ", " + PgDb.BLOB_SHARED
                + "INSERT INTO links (repo, digest, linked_at) SELECT ?, ?, ? FROM held"
                + " ON CONFLICT (repo, digest) DO UPDATE SET linked_at = excluded.linked_at")) {
            s.setString(1, repo.value());
            s.setLong(2, now);
            s.setInt(3, PgDb.BLOB_LOCK);
            s.setInt(4, PgDb.blobKey(digest));
            s.setString(5, repo.value());
            s.setString(6, digest.toString());
            s.setLong(7, now);
            s.executeUpdate();
        }
    }

    static boolean isLinked(Connection c, RepoName repo, Digest digest) throws SQLException {
        return exists(c, "SELECT 1 FROM links WHERE repo = ? AND digest = ?", repo.value(), digest.toString());
    }

    static boolean isLinkedAnywhere(Connection c, Digest digest) throws SQLException {
        return exists(c, "SELECT 1 FROM links WHERE digest = ? LIMIT 1", digest.toString());
    }

    static boolean unlink(Connection c, RepoName repo, Digest digest) throws SQLException {
        return update(c, "DELETE FROM links WHERE repo = ? AND digest = ?", repo.value(), digest.toString()) > 0;
    }

    static Optional<BlobRecord> getBlob(Connection c, Digest digest) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT size, media_type, created_at, last_access FROM blobs"
                + " WHERE digest = ?")) {
            s.setString(1, digest.toString());
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new BlobRecord(digest, rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4)));
            }
        }
    }

    /** Only forward: the row lock and the re-checked condition make racing touches keep the latest. */
    static void touch(Connection c, Digest digest, long lastAccess) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE blobs SET last_access = ? WHERE digest = ?"
                + " AND last_access < ?")) {
            s.setLong(1, lastAccess);
            s.setString(2, digest.toString());
            s.setLong(3, lastAccess);
            s.executeUpdate();
        }
    }

    static void putUpload(Connection c, UploadRecord u) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO uploads (id, repo, started_at, owner) VALUES"
                + " (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, started_at = excluded.started_at,"
                + " owner = excluded.owner")) {
            s.setString(1, u.id());
            s.setString(2, u.repo().value());
            s.setLong(3, u.startedAt());
            s.setString(4, u.owner());
            s.executeUpdate();
        }
    }

    static Optional<UploadRecord> getUpload(Connection c, String id) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT repo, started_at, owner FROM uploads WHERE id = ?")) {
            s.setString(1, id);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? Optional.of(new UploadRecord(id, RepoName.of(rs.getString(1)), rs.getLong(2),
                        rs.getString(3))) : Optional.empty();
            }
        }
    }

    static void deleteUpload(Connection c, String id) throws SQLException {
        update(c, "DELETE FROM uploads WHERE id = ?", id);
    }

    static void clearUploads(Connection c) throws SQLException {
        update(c, "DELETE FROM uploads");
    }

    static void clearUploads(Connection c, String owner) throws SQLException {
        update(c, "DELETE FROM uploads WHERE owner = ?", owner);
    }

    private static boolean exists(Connection c, String sql, String... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args); ResultSet rs = s.executeQuery()) {
            return rs.next();
        }
    }

    private static int update(Connection c, String sql, String... args) throws SQLException {
        try (PreparedStatement s = prepare(c, sql, args)) {
            return s.executeUpdate();
        }
    }

    private static PreparedStatement prepare(Connection c, String sql, String... args) throws SQLException {
        PreparedStatement s = c.prepareStatement(sql);
        for (int i = 0; i < args.length; i++) {
            s.setString(i + 1, args[i]);
        }
        return s;
    }
}
