package ocimirror.storage.meta.pg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import ocimirror.storage.meta.HotRecords;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;

/** What a listener does with each announcement: forget exactly its key, or everything if unreadable. */
class PgChangesTest {
    private static final RepoName REPO = RepoName.of("library/nginx");
    private static final Digest D1 = Digest.sha256("one".getBytes(UTF_8));
    private static final Optional<TagRecord> TAG = Optional.of(new TagRecord(D1, MediaTypes.OCI_MANIFEST, 1, 1, 1));

    private final HotRecords hot = new HotRecords();

    @Test
    void anAnnouncementForgetsItsKeyOnly() {
        cache("latest");
        cache("stable");
        PgChanges.apply(PgChanges.tag(REPO, "latest"), hot, "me");
        assertEquals(1, loads("latest"));
        assertEquals(0, loads("stable"));
        cacheLink();
        PgChanges.apply(PgChanges.link(REPO, D1), hot, "me");
        assertEquals(Boolean.FALSE, hot.linked(REPO, D1, k -> false), "reloaded");
    }

    @Test
    void anAnnouncementFromAnotherStoreForgetsItsKeyAndTheStoresOwnEchoNothing() {
        cache("latest");
        PgChanges.apply(PgChanges.tag(REPO, "latest") + " me", hot, "me");
        assertEquals(0, loads("latest"), "this store's own write: its key was dropped and read back already");
        PgChanges.apply(PgChanges.tag(REPO, "latest") + " other", hot, "me");
        assertEquals(1, loads("latest"), "another replica's write");
    }

    @Test
    void anUnreadableAnnouncementForgetsEverything() {
        for (String payload : new String[] {"rename library/nginx latest", "tag library/nginx", "manifest x:y z",
                PgChanges.ALL, "", null}) {
            cache("latest");
            PgChanges.apply(payload, hot, "me");
            assertEquals(1, loads("latest"), String.valueOf(payload));
        }
    }

    private void cache(String tag) {
        hot.tag(REPO, tag, k -> TAG);
    }

    private void cacheLink() {
        hot.linked(REPO, D1, k -> true);
    }

    /** How many loads a read of {@code tag} makes: 0 if it was in memory. */
    private int loads(String tag) {
        int[] n = {0};
        hot.tag(REPO, tag, k -> {
            n[0]++;
            return TAG;
        });
        return n[0];
    }
}
