package ocimirror.storage.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreVerifierTest {
    private static final RepoName APP = RepoName.of("local/app");
    private static final RepoName CACHED = RepoName.of("docker.io/library/alpine");

    @TempDir
    Path dir;
    private StoreFixture f;
    private final List<String> progress = new ArrayList<>();

    @BeforeEach
    void open() throws Exception {
        f = new StoreFixture(dir);
    }

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void aConsistentStoreIsClean() throws Exception {
        Digest layer = f.blob(APP, 5000);
        f.manifest(APP, "v1", f.blob(APP, 100), List.of(layer));
        f.manifest(CACHED, "latest", f.blob(CACHED, 100), List.of(f.blob(CACHED, 300)));

        StoreVerifier.Report report = verifier().verify(false, progress::add);

        assertTrue(report.clean(), report.problems().toString());
        assertEquals(6, report.blobsChecked());
        assertEquals(f.storage.index().blobBytes(), report.bytesChecked());
        assertFalse(progress.isEmpty());
    }

    @Test
    void findsEveryKindOfInconsistencyAndRepairsIt() throws Exception {
        Digest config = f.blob(APP, 100);
        Digest layer = f.blob(APP, 5000);
        Digest manifest = f.manifest(APP, "v1", config, List.of(layer));
        Digest corrupt = f.blob(CACHED, 800);
        Digest vanished = f.blob(CACHED, 900);
        Digest cachedManifest = f.manifest(CACHED, "latest", vanished, List.of());
        Files.write(f.storage.blobs().stat(corrupt).orElseThrow().path(), new byte[800]); // bit rot
        Files.delete(f.storage.blobs().stat(vanished).orElseThrow().path());
        Files.delete(f.storage.blobs().stat(layer).orElseThrow().path());
        byte[] orphanBytes = "left by a crash between metadata and file deletion".getBytes();
        Digest orphan = f.storage.blobs().put(orphanBytes, null).digest();
        Digest ghost = Digest.sha256("never stored".getBytes());
        f.storage.metadata().putTag(CACHED, "ghost", new TagRecord(ghost, null, 1, 0, 0));
        f.storage.metadata().linkBlob(APP, ghost);

        StoreVerifier.Report report = verifier().verify(false, progress::add);

        Set<String> kinds = report.problems().stream().map(p -> p.kind().name()).collect(Collectors.toSet());
        assertEquals(Set.of("CORRUPT_BLOB", "MISSING_FILE", "ORPHAN_FILE", "TAG_WITHOUT_MANIFEST", "LINK_WITHOUT_BLOB",
                "INCOMPLETE_IMAGE"), kinds, report.problems().toString());
        assertTrue(report.problems().stream().noneMatch(StoreVerifier.Problem::repaired));
        assertTrue(f.fileExists(orphan), "a check alone changes nothing");

        StoreVerifier.Report repaired = verifier().verify(true, progress::add);
        assertTrue(repaired.problems().stream().filter(p -> p.kind() != StoreVerifier.Kind.INCOMPLETE_IMAGE)
                .allMatch(StoreVerifier.Problem::repaired), repaired.problems().toString());
        assertFalse(f.fileExists(orphan));
        assertFalse(f.fileExists(corrupt));
        assertTrue(f.storage.metadata().getBlob(vanished).isEmpty());
        assertTrue(f.storage.metadata().getManifest(CACHED, cachedManifest).isPresent(),
                "its config is missing, but the manifest itself is whole");
        assertTrue(f.storage.metadata().getTag(CACHED, "ghost").isEmpty());
        assertFalse(f.storage.metadata().isBlobLinked(APP, ghost));
        assertTrue(f.storage.metadata().getManifest(APP, manifest).isPresent(), "an incomplete image is only reported");

        StoreVerifier.Report after = verifier().verify(false, progress::add);
        assertEquals(Set.of(StoreVerifier.Kind.INCOMPLETE_IMAGE),
                after.problems().stream().map(StoreVerifier.Problem::kind).collect(Collectors.toSet()),
                after.problems().toString());
        long sum = 0;
        for (Digest d : List.of(config, manifest, cachedManifest)) {
            sum += f.storage.metadata().getBlob(d).map(BlobRecord::size).orElse(0L);
        }
        assertEquals(sum, f.storage.index().blobBytes());
    }

    @Test
    void aManifestWhoseBlobIsGoneIsRemovedWithItsTags() throws Exception {
        Digest manifest = f.manifest(CACHED, "latest", f.blob(CACHED, 10), List.of());
        f.storage.metadata().deleteBlob(manifest);
        Files.delete(f.storage.blobs().stat(manifest).orElseThrow().path());

        StoreVerifier.Report report = verifier().verify(true, progress::add);

        assertTrue(report.problems().stream().anyMatch(p -> p.kind() == StoreVerifier.Kind.MANIFEST_WITHOUT_BLOB),
                report.problems().toString());
        assertTrue(f.storage.metadata().getManifest(CACHED, manifest).isEmpty());
        assertTrue(f.storage.metadata().getTag(CACHED, "latest").isEmpty());
        assertTrue(verifier().verify(false, progress::add).clean());
    }

    private StoreVerifier verifier() {
        return new StoreVerifier(f.storage, r -> r.value().startsWith("local/"));
    }
}
