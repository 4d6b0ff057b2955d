package ocimirror.storage.meta.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import ocimirror.storage.meta.HotRecords;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * The announcements of changed records that replicas keep their memory right with: a
 * {@code NOTIFY} on {@link #CHANNEL} per changed tag, manifest record or link, sent on the
 * writing transaction's connection, so that PostgreSQL delivers it to every listener when that
 * transaction commits (after the change is visible) and never if it rolls back.
 *
 * <p>Payloads are {@code "<kind> <repository> <tag or digest>"}; neither a repository name, a tag
 * nor a digest holds a space. A listener that cannot read one (written by a newer version, say)
 * forgets everything rather than guess. Every write of these records must announce itself:
 * {@link PgMetadataStore}'s do, and so must any other statement that changes them (garbage
 * collection's conditional unlink, whole-blob removal: {@link #link}, {@link #manifest},
 * {@link #tag}, or {@link #ALL} for a bulk change).
 */
final class PgChanges {
    static final String CHANNEL = "ocimirror_metadata";
    /** Everything may have changed. */
    static final String ALL = "all";

    private PgChanges() {
    }

    static String tag(RepoName repo, String tag) {
        return "tag " + repo.value() + " " + tag;
    }

    static String manifest(RepoName repo, Digest digest) {
        return "manifest " + repo.value() + " " + digest;
    }

    static String link(RepoName repo, Digest digest) {
        return "link " + repo.value() + " " + digest;
    }

    /** Announces the payloads when {@code c}'s transaction commits (one round trip however many). */
    static void send(Connection c, String origin, List<String> payloads) throws SQLException {
        if (payloads.isEmpty()) {
            return;
        }
        List<String> sent = payloads.stream().map(p -> p + " " + origin).toList();
        try (PreparedStatement s = c.prepareStatement("SELECT pg_notify(?, p) FROM unnest(?::text[]) AS p")) {
            s.setString(1, CHANNEL);
            s.setArray(2, c.createArrayOf("text", sent.toArray()));
            s.execute();
        }
    }

    static void send(Connection c, String origin, String payload) throws SQLException {
        send(c, origin, List.of(payload));
    }

    /**
     * Forgets what {@code payload} names in {@code hot}; everything if it cannot be read. A change
     * this store sent itself ({@code ownOrigin}) is skipped: the write dropped its key already, and
     * a read of the key since then (see {@code CachedPgMetadataStore}) holds the committed value,
     * which this late echo would throw away.
     */
    static void apply(String payload, HotRecords hot, String ownOrigin) {
        String[] parts = payload == null ? new String[0] : payload.split(" ", -1);
        if (parts.length == 4 && parts[3].equals(ownOrigin)) {
            return;
        }
        try {
            if (parts.length == 3 || parts.length == 4) {
                RepoName repo = RepoName.of(parts[1]);
                switch (parts[0]) {
                    case "tag" -> {
                        hot.tagChanged(repo, parts[2]);
                        return;
                    }
                    case "manifest" -> {
                        hot.manifestChanged(repo, Digest.parse(parts[2]));
                        return;
                    }
                    case "link" -> {
                        hot.linkChanged(repo, Digest.parse(parts[2]));
                        return;
                    }
                    default -> {
                        // unknown kind: below
                    }
                }
            }
        } catch (RuntimeException malformed) {
            // below
        }
        hot.invalidateAll();
    }
}
