package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-memory tag and manifest records and links never outlive a write that changed them. */
class HotRecordsTest {
    private static final RepoName REPO = RepoName.of("library/nginx");
    private static final Digest D1 = Digest.sha256("one".getBytes(UTF_8));
    private static final Digest D2 = Digest.sha256("two".getBytes(UTF_8));

    @TempDir
    Path dir;
    private RocksMetadataStore store;

    @BeforeEach
    void open() throws IOException {
        store = RocksMetadataStore.open(dir, Clock.systemUTC());
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void aRememberedAbsenceEndsWithTheWrite() {
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        store.putManifest(REPO, manifest(D1));
        store.putTag(REPO, "latest", tag(D1, 1));
        assertEquals(Optional.of(manifest(D1)), store.getManifest(REPO, D1));
        assertEquals(D1, store.getTag(REPO, "latest").orElseThrow().digest());
    }

    @Test
    void movedAndDeletedTagsAreSeenAtOnce() {
        store.putTag(REPO, "latest", tag(D1, 1));
        assertEquals(D1, store.getTag(REPO, "latest").orElseThrow().digest());
        store.putTag(REPO, "latest", tag(D2, 2));
        assertEquals(D2, store.getTag(REPO, "latest").orElseThrow().digest());
        assertTrue(store.deleteTag(REPO, "latest"));
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
    }

    @Test
    void deletingAManifestForgetsItAndTheTagsOnIt() {
        store.putManifest(REPO, manifest(D1));
        store.putTag(REPO, "a", tag(D1, 1));
        store.putTag(REPO, "b", tag(D1, 1));
        store.putTag(REPO, "c", tag(D2, 1));
        List.of("a", "b", "c").forEach(t -> assertTrue(store.getTag(REPO, t).isPresent()));
        assertTrue(store.getManifest(REPO, D1).isPresent());

        assertTrue(store.deleteManifest(REPO, D1));

        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        assertEquals(Optional.empty(), store.getTag(REPO, "a"));
        assertEquals(Optional.empty(), store.getTag(REPO, "b"));
        assertEquals(D2, store.getTag(REPO, "c").orElseThrow().digest());
    }

    @Test
    void evictingAManifestBlobForgetsItAndItsTags() {
        store.putBlob(new BlobRecord(D1, 10, MediaTypes.OCI_MANIFEST, 1, 1));
        store.putManifest(REPO, manifest(D1));
        store.putTag(REPO, "latest", tag(D1, 1));
        assertTrue(store.getManifest(REPO, D1).isPresent());
        assertTrue(store.getTag(REPO, "latest").isPresent());

        assertTrue(store.removeBlob(D1, r -> true).isPresent());

        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
    }

    @Test
    void aLinkAndItsRemovalAreSeenAtOnce() {
        assertFalse(store.isBlobLinked(REPO, D1));
        store.linkBlob(REPO, D1);
        assertTrue(store.isBlobLinked(REPO, D1));
        assertFalse(store.isBlobLinked(RepoName.of("library/redis"), D1));
        assertTrue(store.unlinkBlob(REPO, D1));
        assertFalse(store.isBlobLinked(REPO, D1));
    }

    @Test
    void collectingAnOldLinkForgetsIt() {
        store.linkBlob(REPO, D1);
        assertTrue(store.isBlobLinked(REPO, D1));
        assertTrue(store.unlinkIfOlder(REPO, D1, System.currentTimeMillis() + 60_000));
        assertFalse(store.isBlobLinked(REPO, D1));
    }

    @Test
    void evictingABlobForgetsItsLinks() {
        RepoName other = RepoName.of("library/redis");
        store.putBlob(new BlobRecord(D1, 10, null, 1, 1));
        store.linkBlob(REPO, D1);
        store.linkBlob(other, D1);
        assertTrue(store.isBlobLinked(REPO, D1));
        assertTrue(store.isBlobLinked(other, D1));

        assertTrue(store.removeBlob(D1, r -> true).isPresent());

        assertFalse(store.isBlobLinked(REPO, D1));
        assertFalse(store.isBlobLinked(other, D1));
    }

    /** Readers racing a writer: once the writer stops, every reader sees its last write. */
    @Test
    void readersRacingWritesEndOnTheLastWrite() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        List<CompletableFuture<Void>> readers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            readers.add(CompletableFuture.runAsync(() -> {
                while (!stop.get()) {
                    store.getTag(REPO, "moving");
                }
            }));
        }
        int last = 2_000;
        for (int i = 1; i <= last; i++) {
            store.putTag(REPO, "moving", tag(i % 2 == 0 ? D1 : D2, i));
        }
        stop.set(true);
        CompletableFuture.allOf(readers.toArray(CompletableFuture[]::new)).get();
        assertEquals(last, store.getTag(REPO, "moving").orElseThrow().checkedAt());
    }

    private static ManifestRecord manifest(Digest d) {
        return new ManifestRecord(d, MediaTypes.OCI_MANIFEST, 10, null, null, null);
    }

    private static TagRecord tag(Digest d, long checkedAt) {
        return new TagRecord(d, MediaTypes.OCI_MANIFEST, 10, checkedAt, checkedAt);
    }
}
