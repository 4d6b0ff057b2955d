package ocimirror.storage.meta.pg;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.Page;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * Manifests (with their referrer entry: the {@code subject} column), tags and the catalog. Each
 * write that also records the repository is one statement (a data-modifying {@code WITH}), so it
 * is atomic on its own and costs one round trip.
 */
final class PgManifests {
    /** Inserts the repository unless it is there; the statement it prefixes does the rest. */
    static final String WITH_REPO = "WITH repo AS (INSERT INTO repositories (name, created_at) VALUES (?, ?)"
            + " ON CONFLICT (name) DO NOTHING) ";
    private static final String MANIFEST_COLUMNS = "digest, media_type, size, subject, artifact_type, annotations";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, String>> ANNOTATIONS = new TypeReference<>() {
    };

    private PgManifests() {
    }

    /** Holds the blob's lock shared until it commits, as a link does ({@link PgBlobs#link}). */
    static void putManifest(Connection c, RepoName repo, ManifestRecord m, long now) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(WITH_REPO + ", " + PgDb.BLOB_SHARED + "INSERT INTO manifests"
                + " (repo, " + MANIFEST_COLUMNS + ") SELECT ?, ?, ?, ?, ?, ?, ? FROM held"
                + " ON CONFLICT (repo, digest) DO UPDATE SET"
                + " media_type = excluded.media_type, size = excluded.size, subject = excluded.subject,"
                + " artifact_type = excluded.artifact_type, annotations = excluded.annotations")) {
            s.setString(1, repo.value());
            s.setLong(2, now);
            s.setInt(3, PgDb.BLOB_LOCK);
            s.setInt(4, PgDb.blobKey(m.digest()));
            s.setString(5, repo.value());
            s.setString(6, m.digest().toString());
            s.setString(7, m.mediaType());
            s.setLong(8, m.size());
            s.setString(9, m.subject() == null ? null : m.subject().toString());
            s.setString(10, m.artifactType());
            s.setString(11, encode(m.annotations()));
            s.executeUpdate();
        }
    }

    /** Every manifest of {@code repo}, by digest. */
    static List<ManifestRecord> manifests(Connection c, RepoName repo) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + MANIFEST_COLUMNS
                + " FROM manifests WHERE repo = ? ORDER BY digest")) {
            s.setString(1, repo.value());
            try (ResultSet rs = s.executeQuery()) {
                List<ManifestRecord> result = new ArrayList<>();
                while (rs.next()) {
                    result.add(manifest(rs));
                }
                return List.copyOf(result);
            }
        }
    }

    static Optional<ManifestRecord> getManifest(Connection c, RepoName repo, Digest digest) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + MANIFEST_COLUMNS
                + " FROM manifests WHERE repo = ? AND digest = ?")) {
            s.setString(1, repo.value());
            s.setString(2, digest.toString());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? Optional.of(manifest(rs)) : Optional.empty();
            }
        }
    }

    /**
     * The manifest and the tags of its repository pointing at it, in one statement. Returns the
     * deleted tags, or null if there was no such manifest.
     */
    static List<String> deleteManifest(Connection c, RepoName repo, Digest digest) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("WITH m AS (DELETE FROM manifests WHERE repo = ? AND digest = ?"
                + " RETURNING 1), t AS (DELETE FROM tags WHERE repo = ? AND digest = ? AND EXISTS (SELECT 1 FROM m)"
                + " RETURNING tag) SELECT (SELECT count(*) FROM m), (SELECT array_agg(tag) FROM t)")) {
            s.setString(1, repo.value());
            s.setString(2, digest.toString());
            s.setString(3, repo.value());
            s.setString(4, digest.toString());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                if (rs.getLong(1) == 0) {
                    return null;
                }
                java.sql.Array tags = rs.getArray(2);
                return tags == null ? List.of() : List.of((String[]) tags.getArray());
            }
        }
    }

    static List<ManifestRecord> referrers(Connection c, RepoName repo, Digest subject) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + MANIFEST_COLUMNS
                + " FROM manifests WHERE repo = ? AND subject = ? ORDER BY digest")) {
            s.setString(1, repo.value());
            s.setString(2, subject.toString());
            try (ResultSet rs = s.executeQuery()) {
                List<ManifestRecord> result = new ArrayList<>();
                while (rs.next()) {
                    result.add(manifest(rs));
                }
                return List.copyOf(result);
            }
        }
    }

    static void putTag(Connection c, RepoName repo, String tag, TagRecord r, long now) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(WITH_REPO + "INSERT INTO tags (repo, tag, digest, media_type,"
                + " size, fetched_at, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, tag) DO UPDATE SET"
                + " digest = excluded.digest, media_type = excluded.media_type, size = excluded.size,"
                + " fetched_at = excluded.fetched_at, checked_at = excluded.checked_at")) {
            s.setString(1, repo.value());
            s.setLong(2, now);
            s.setString(3, repo.value());
            s.setString(4, tag);
            s.setString(5, r.digest().toString());
            s.setString(6, r.mediaType());
            s.setLong(7, r.size());
            s.setLong(8, r.fetchedAt());
            s.setLong(9, r.checkedAt());
            s.executeUpdate();
        }
    }

    static Optional<TagRecord> getTag(Connection c, RepoName repo, String tag) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT digest, media_type, size, fetched_at, checked_at"
                + " FROM tags WHERE repo = ? AND tag = ?")) {
            s.setString(1, repo.value());
            s.setString(2, tag);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new TagRecord(Digest.parse(rs.getString(1)), rs.getString(2), rs.getLong(3),
                        rs.getLong(4), rs.getLong(5)));
            }
        }
    }

    static boolean deleteTag(Connection c, RepoName repo, String tag) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("DELETE FROM tags WHERE repo = ? AND tag = ?")) {
            s.setString(1, repo.value());
            s.setString(2, tag);
            return s.executeUpdate() > 0;
        }
    }

    static Page<String> listTags(Connection c, RepoName repo, String last, int n) throws SQLException {
        return page(c, "SELECT tag FROM tags WHERE repo = ?", "tag", repo.value(), last, n);
    }

    static boolean repositoryExists(Connection c, RepoName repo) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM repositories WHERE name = ?")) {
            s.setString(1, repo.value());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    static Page<String> listRepositories(Connection c, String last, int n) throws SQLException {
        return page(c, "SELECT name FROM repositories WHERE true", "name", null, last, n);
    }

    /**
     * Up to {@code n} values of {@code column} after {@code last}, in byte order; one row more is
     * read to tell whether any follow.
     */
    private static Page<String> page(Connection c, String select, String column, String scope, String last, int n)
            throws SQLException {
        int limit = Math.max(n, 0);
        String sql = select + (last == null ? "" : " AND " + column + " > ?") + " ORDER BY " + column + " LIMIT ?";
        try (PreparedStatement s = c.prepareStatement(sql)) {
            int i = 1;
            if (scope != null) {
                s.setString(i++, scope);
            }
            if (last != null) {
                s.setString(i++, last);
            }
            s.setInt(i, limit + 1);
            try (ResultSet rs = s.executeQuery()) {
                List<String> items = new ArrayList<>();
                boolean more = false;
                while (rs.next()) {
                    if (items.size() == limit) {
                        more = true;
                        break;
                    }
                    items.add(rs.getString(1));
                }
                return new Page<>(List.copyOf(items), more);
            }
        }
    }

    private static ManifestRecord manifest(ResultSet rs) throws SQLException {
        String subject = rs.getString(4);
        return new ManifestRecord(Digest.parse(rs.getString(1)), rs.getString(2), rs.getLong(3),
                subject == null ? null : Digest.parse(subject), rs.getString(5), decode(rs.getString(6)));
    }

    private static String encode(Map<String, String> annotations) throws SQLException {
        try {
            return JSON.writeValueAsString(new TreeMap<>(annotations));
        } catch (JsonProcessingException e) {
            throw new SQLException("encoding annotations: " + e.getMessage(), e);
        }
    }

    private static Map<String, String> decode(String json) throws SQLException {
        try {
            return JSON.readValue(json, ANNOTATIONS);
        } catch (JsonProcessingException e) {
            throw new SQLException("a corrupt annotations value: " + e.getMessage(), e);
        }
    }
}
