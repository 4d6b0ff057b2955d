package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The in-memory tag and manifest records and links never outlive a write that changed them. The
 * writes of {@link MetadataStore} itself are pinned by {@link MetadataStoreContract} (every backend
 * must show a write to the next read); here, the ones only {@link CacheIndex} makes.
 */
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

    private static ManifestRecord manifest(Digest d) {
        return new ManifestRecord(d, MediaTypes.OCI_MANIFEST, 10, null, null, null);
    }

    private static TagRecord tag(Digest d, long checkedAt) {
        return new TagRecord(d, MediaTypes.OCI_MANIFEST, 10, checkedAt, checkedAt);
    }
}
