package ocimirror.storage.meta.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.LinkRecord;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * The listings garbage collection and {@code verify} walk, the conditional unlink, and the pins
 * ({@link CacheIndex}); each call is one statement. Sorted as RocksDB's keys are: the columns
 * are {@code COLLATE "C"}.
 */
final class PgScans {
    /** Blob records read per statement by {@link #blobPage}. */
    static final int BLOB_PAGE = 1000;

    private PgScans() {
    }

    static List<LinkRecord> links(Connection c, RepoName repo) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT digest, linked_at FROM links WHERE repo = ?"
                + " ORDER BY digest")) {
            s.setString(1, repo.value());
            try (ResultSet rs = s.executeQuery()) {
                List<LinkRecord> result = new ArrayList<>();
                while (rs.next()) {
                    result.add(new LinkRecord(Digest.parse(rs.getString(1)), rs.getLong(2)));
                }
                return result;
            }
        }
    }

    /**
     * Only a link made before {@code cutoff}: the row lock orders it with a concurrent
     * {@link PgBlobs#link}, and the condition is re-checked on the renewed row, which stays.
     */
    static boolean unlinkIfOlder(Connection c, String origin, RepoName repo, Digest digest, long cutoff) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("DELETE FROM links WHERE repo = ? AND digest = ?"
                + " AND linked_at < ?")) {
            s.setString(1, repo.value());
            s.setString(2, digest.toString());
            s.setLong(3, cutoff);
            if (s.executeUpdate() == 0) {
                return false;
            }
        }
        PgChanges.send(c, origin, PgChanges.link(repo, digest));
        return true;
    }

    static List<CacheIndex.TagEntry> tags(Connection c, RepoName repo) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT tag, digest, media_type, size, fetched_at, checked_at"
                + " FROM tags WHERE repo = ? ORDER BY tag")) {
            s.setString(1, repo.value());
            try (ResultSet rs = s.executeQuery()) {
                List<CacheIndex.TagEntry> result = new ArrayList<>();
                while (rs.next()) {
                    result.add(new CacheIndex.TagEntry(rs.getString(1), new TagRecord(Digest.parse(rs.getString(2)),
                            rs.getString(3), rs.getLong(4), rs.getLong(5), rs.getLong(6))));
                }
                return result;
            }
        }
    }

    static List<RepoName> repositories(Connection c) throws SQLException {
        List<RepoName> result = new ArrayList<>();
        for (String name : strings(c, "SELECT name FROM repositories ORDER BY name")) {
            result.add(RepoName.of(name));
        }
        return result;
    }

    /**
     * Up to {@link #BLOB_PAGE} records after {@code after} (null: from the first), by digest. A scan
     * is a series of pages, each its own statement, so no connection is held while a caller works
     * through one; records written meanwhile may or may not be seen.
     */
    static List<BlobRecord> blobPage(Connection c, Digest after) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT digest, size, media_type, created_at, last_access"
                + " FROM blobs" + (after == null ? "" : " WHERE digest > ?") + " ORDER BY digest LIMIT "
                + BLOB_PAGE)) {
            if (after != null) {
                s.setString(1, after.toString());
            }
            try (ResultSet rs = s.executeQuery()) {
                List<BlobRecord> result = new ArrayList<>();
                while (rs.next()) {
                    result.add(new BlobRecord(Digest.parse(rs.getString(1)), rs.getLong(2), rs.getString(3),
                            rs.getLong(4), rs.getLong(5)));
                }
                return result;
            }
        }
    }

    static boolean addPin(Connection c, String image, long now) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO pins (image, pinned_at) VALUES (?, ?)"
                + " ON CONFLICT (image) DO NOTHING")) {
            s.setString(1, image);
            s.setLong(2, now);
            return s.executeUpdate() > 0;
        }
    }

    static boolean removePin(Connection c, String image) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("DELETE FROM pins WHERE image = ?")) {
            s.setString(1, image);
            return s.executeUpdate() > 0;
        }
    }

    static List<String> pins(Connection c) throws SQLException {
        return strings(c, "SELECT image FROM pins ORDER BY image");
    }

    private static List<String> strings(Connection c, String sql) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql); ResultSet rs = s.executeQuery()) {
            List<String> result = new ArrayList<>();
            while (rs.next()) {
                result.add(rs.getString(1));
            }
            return result;
        }
    }
}
