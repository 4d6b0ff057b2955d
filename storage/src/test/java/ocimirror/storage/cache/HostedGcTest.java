package ocimirror.storage.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostedGcTest {
    private static final RepoName APP = RepoName.of("local/app");
    private static final RepoName TOOLS = RepoName.of("local/tools");
    private static final RepoName CACHED = RepoName.of("docker.io/library/alpine");
    private static final Duration GRACE = Duration.ofHours(1);

    @TempDir
    Path dir;
    private StoreFixture f;
    private final Set<String> checked = new HashSet<>();
    private HostedGc gc;

    @BeforeEach
    void open() throws Exception {
        f = new StoreFixture(dir);
        gc = new HostedGc(f.storage.metadata(), f.storage.index(), f.storage.blobs(), f.clock, GRACE,
                r -> r.value().startsWith("local/"), (r, d) -> checked.contains(r + "@" + d));
    }

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void blobsUnreferencedAfterAManifestDeleteGoOnceTheGracePeriodIsOver() {
        Digest config = f.blob(APP, 100);
        Digest layer = f.blob(APP, 4000);
        Digest shared = f.blob(APP, 3000);
        Digest v1 = f.manifest(APP, "v1", config, List.of(layer, shared));
        Digest config2 = f.blob(APP, 120);
        Digest v2 = f.manifest(APP, "v2", config2, List.of(shared));
        f.clock.advance(GRACE.plusMinutes(1));
        assertEquals(new HostedGc.Run(1, 0, 0, 0), gc.run(), "everything is referenced");

        long v1Size = f.storage.metadata().getBlob(v1).orElseThrow().size();
        long before = f.storage.index().blobBytes();
        assertTrue(f.storage.metadata().deleteManifest(APP, v1));
        HostedGc.Run run = gc.run();

        assertEquals(2, run.unlinked());
        assertEquals(3, run.deleted(), "config, layer and the manifest's own bytes");
        for (Digest gone : List.of(config, layer, v1)) {
            assertFalse(f.fileExists(gone), gone + " kept");
            assertTrue(f.storage.metadata().getBlob(gone).isEmpty());
        }
        for (Digest kept : List.of(shared, config2, v2)) {
            assertTrue(f.fileExists(kept), kept + " of v2 deleted");
        }
        assertTrue(f.storage.metadata().isBlobLinked(APP, shared));
        assertEquals(100 + 4000 + v1Size, run.freed());
        assertEquals(before - run.freed(), f.storage.index().blobBytes());
    }

    @Test
    void aPushInProgressIsKeptByTheGracePeriod() {
        Digest uploaded = f.blob(APP, 2000); // blob pushed, manifest not yet
        f.clock.advance(GRACE.minusMinutes(1));
        assertEquals(0, gc.run().unlinked());
        assertTrue(f.fileExists(uploaded));

        f.clock.advance(Duration.ofMinutes(2));
        HostedGc.Run run = gc.run();
        assertEquals(1, run.unlinked());
        assertEquals(1, run.deleted());
        assertFalse(f.fileExists(uploaded));
        assertEquals(0, f.storage.index().blobBytes());
    }

    @Test
    void aRelinkRenewsTheGracePeriodAndAClientCheckKeepsTheLink() {
        Digest a = f.blob(APP, 100);
        Digest b = f.blob(APP, 100);
        f.clock.advance(GRACE.plusMinutes(1));
        f.storage.metadata().linkBlob(APP, a); // uploaded again just now
        checked.add(APP + "@" + b);            // a client just HEADed b: its manifest may come next
        HostedGc.Run run = gc.run();
        assertEquals(0, run.unlinked());
        assertTrue(f.fileExists(a) && f.fileExists(b));
    }

    @Test
    void aBlobStillLinkedElsewhereLosesOnlyItsUnreferencedLink() {
        Digest shared = f.blob(APP, 500);
        f.storage.metadata().linkBlob(TOOLS, shared);
        Digest toolsManifest = f.manifest(TOOLS, "v1", f.blob(TOOLS, 10), List.of(shared));
        Digest cachedToo = f.blob(APP, 700);
        f.storage.metadata().linkBlob(CACHED, cachedToo);
        f.clock.advance(GRACE.plusMinutes(1));

        HostedGc.Run run = gc.run();

        assertEquals(2, run.unlinked());
        assertEquals(0, run.deleted());
        assertFalse(f.storage.metadata().isBlobLinked(APP, shared));
        assertTrue(f.storage.metadata().isBlobLinked(TOOLS, shared));
        assertTrue(f.storage.metadata().isBlobLinked(CACHED, cachedToo), "cache repositories are eviction's");
        assertTrue(f.fileExists(shared) && f.fileExists(cachedToo) && f.fileExists(toolsManifest));
    }

    @Test
    void aHeldBlobIsLeftForTheNextRun() {
        Digest d = f.blob(APP, 100);
        f.clock.advance(GRACE.plusMinutes(1));
        BlobHolds.Hold hold = f.storage.blobs().holds().tryHold(d).orElseThrow();
        HostedGc.Run run = gc.run();
        assertEquals(1, run.unlinked());
        assertEquals(0, run.deleted());
        assertTrue(f.fileExists(d));
        hold.close();
        assertEquals(1, gc.run().deleted());
        assertFalse(f.fileExists(d));
    }
}
