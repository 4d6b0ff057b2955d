package ocimirror.storage.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.meta.LruEntry;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvictorTest {
    private static final RepoName CACHED = RepoName.of("docker.io/library/alpine");
    private static final RepoName OTHER_CACHED = RepoName.of("docker.io/library/nginx");
    private static final RepoName HOSTED = RepoName.of("local/app");
    private static final Predicate<RepoName> IS_CACHE = r -> r.value().startsWith("docker.io/");

    @TempDir
    Path dir;
    private StoreFixture f;
    private List<PinnedSet.Pin> pins;
    private Evictor evictor;
    private final List<Digest> evicted = new ArrayList<>();

    @BeforeEach
    void open() throws Exception {
        f = new StoreFixture(dir);
        pins = new ArrayList<>();
        evictor = new Evictor(f.storage.index(), f.storage.blobs(), f.clock, IS_CACHE,
                () -> PinnedSet.resolve(pins, f.storage.metadata(), f.storage.blobs()));
        evictor.addListener((d, size) -> evicted.add(d));
    }

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void evictsLeastRecentlyUsedUntilUnderTheLowMark() {
        Digest a = f.blob(CACHED, 1000);
        f.clock.advance(Duration.ofMinutes(1));
        Digest b = f.blob(CACHED, 1000);
        f.clock.advance(Duration.ofMinutes(1));
        Digest c = f.blob(OTHER_CACHED, 1000);
        f.clock.advance(Duration.ofMinutes(1));
        f.storage.metadata().touchBlob(a, f.clock.millis()); // a is now the most recent
        assertEquals(List.of(b, c, a), order());
        assertEquals(3000, f.storage.index().blobBytes());

        Evictor.Pass pass = evictor.evictIfAbove(2500, 2000);

        assertEquals(1, pass.evicted());
        assertEquals(1000, pass.freed());
        assertEquals(2000, pass.total());
        assertEquals(List.of(b), evicted);
        assertFalse(f.fileExists(b));
        assertTrue(f.storage.metadata().getBlob(b).isEmpty());
        assertFalse(f.storage.metadata().isBlobLinked(CACHED, b));
        assertTrue(f.storage.index().refs(b).isEmpty());
        assertTrue(f.fileExists(a) && f.fileExists(c));
        assertEquals(List.of(c, a), order());
        assertEquals(2000, f.storage.index().blobBytes());
    }

    @Test
    void nothingHappensBelowTheHighMark() {
        f.blob(CACHED, 1000);
        f.blob(CACHED, 1000);
        Evictor.Pass pass = evictor.evictIfAbove(2000, 500); // at the high mark, not past it
        assertEquals(0, pass.evicted());
        assertEquals(2000, f.storage.index().blobBytes());
        assertEquals(1, evictor.evictIfAbove(1999, 1000).evicted());
    }

    @Test
    void pinnedImagesAreKeptWholeThroughAnIndex() {
        Digest config = f.blob(CACHED, 100);
        Digest layer = f.blob(CACHED, 5000);
        Digest child = f.manifest(CACHED, null, config, List.of(layer));
        Digest otherConfig = f.blob(CACHED, 100);
        Digest otherLayer = f.blob(CACHED, 5000);
        Digest otherChild = f.manifest(CACHED, null, otherConfig, List.of(otherLayer));
        Digest index = f.index(CACHED, "3.20", List.of(child, otherChild));
        Digest unpinned = f.blob(OTHER_CACHED, 5000);
        f.clock.advance(Duration.ofMinutes(5));
        f.storage.metadata().touchBlob(unpinned, f.clock.millis());
        pins.add(new PinnedSet.Pin(CACHED, new Reference.Tag("3.20")));

        assertEquals(Set.of(config, layer, child, otherConfig, otherLayer, otherChild, index),
                PinnedSet.resolve(pins, f.storage.metadata(), f.storage.blobs()));
        Evictor.Pass pass = evictor.evict(0);

        assertEquals(List.of(unpinned), evicted);
        assertEquals(7, pass.kept());
        for (Digest d : List.of(config, layer, child, otherConfig, otherLayer, otherChild, index)) {
            assertTrue(f.fileExists(d), d + " of the pinned image was evicted");
        }
        assertEquals(Optional.of(index), f.storage.metadata().getTag(CACHED, "3.20").map(t -> t.digest()));
    }

    @Test
    void hostedContentIsNeverEvictedEvenWhenAlsoCached() {
        Digest shared = f.blob(CACHED, 1000);
        f.storage.metadata().linkBlob(HOSTED, shared); // mounted from the cache into a hosted repository
        Digest pushed = f.blob(HOSTED, 1000);
        Digest pushedManifest = f.manifest(HOSTED, "v1", pushed, List.of(shared));
        Digest cachedOnly = f.blob(CACHED, 1000);
        f.clock.advance(Duration.ofMinutes(1));
        Digest recent = f.blob(CACHED, 1000);
        f.clock.advance(Duration.ofMinutes(1));

        Evictor.Pass pass = evictor.evict(f.storage.index().blobBytes() - 1000);

        assertEquals(List.of(cachedOnly), evicted);
        List<Digest> order = order();
        assertEquals(recent, order.get(0), "hosted blobs move behind the cache blobs, so later passes reach those first");
        assertEquals(Set.of(shared, pushed, pushedManifest), Set.copyOf(order.subList(1, order.size())));
        evictor.evict(0);
        assertEquals(List.of(cachedOnly, recent), evicted);
        assertEquals(3, pass.kept());
        assertTrue(f.fileExists(shared) && f.fileExists(pushed) && f.fileExists(pushedManifest));
        assertTrue(f.storage.metadata().isBlobLinked(CACHED, shared), "refused removals change nothing");
        assertTrue(f.storage.metadata().getTag(HOSTED, "v1").isPresent());
    }

    @Test
    void blobsBeingReadAreSkippedUntilReleased() {
        Digest read = f.blob(CACHED, 1000);
        Digest idle = f.blob(CACHED, 1000);
        BlobHolds holds = f.storage.blobs().holds();
        BlobHolds.Hold hold = holds.tryHold(read).orElseThrow();

        Evictor.Pass pass = evictor.evict(0);
        assertEquals(List.of(idle), evicted);
        assertEquals(1, pass.held());
        assertTrue(f.fileExists(read));

        hold.close();
        assertEquals(1, evictor.evict(0).evicted());
        assertFalse(f.fileExists(read));
        assertEquals(0, f.storage.index().blobBytes());
    }

    @Test
    void aManifestGoesWithItsBlobTagsIncludedSoTheNextRequestRefetches() {
        Digest config = f.blob(CACHED, 100);
        Digest layer = f.blob(CACHED, 1000);
        Digest manifest = f.manifest(CACHED, "latest", config, List.of(layer));
        f.manifest(OTHER_CACHED, "mirror", config, List.of(layer)); // the same bytes under another repository
        f.clock.advance(Duration.ofMinutes(1));
        f.storage.metadata().touchBlob(config, f.clock.millis());
        f.storage.metadata().touchBlob(layer, f.clock.millis());
        long manifestSize = f.storage.metadata().getBlob(manifest).orElseThrow().size();
        long total = f.storage.index().blobBytes();

        evictor.evict(total - 1); // just the oldest: the manifest

        assertEquals(List.of(manifest), evicted);
        assertEquals(total - manifestSize, f.storage.index().blobBytes());
        for (RepoName repo : List.of(CACHED, OTHER_CACHED)) {
            assertTrue(f.storage.metadata().getManifest(repo, manifest).isEmpty(), "manifest record left in " + repo);
        }
        assertTrue(f.storage.metadata().getTag(CACHED, "latest").isEmpty());
        assertTrue(f.storage.metadata().getTag(OTHER_CACHED, "mirror").isEmpty());
        assertTrue(f.fileExists(config) && f.fileExists(layer));
    }

    @Test
    void theTotalAndTheOrderSurviveARestart() throws Exception {
        Digest a = f.blob(CACHED, 1234);
        f.clock.advance(Duration.ofMinutes(1));
        Digest b = f.blob(CACHED, 766);
        f.close();
        f = new StoreFixture(dir);
        assertEquals(2000, f.storage.index().blobBytes());
        assertEquals(List.of(a, b), order());
        f.storage.metadata().deleteBlob(a);
        assertEquals(766, f.storage.index().blobBytes());
        assertEquals(List.of(b), order());
    }

    private List<Digest> order() {
        return f.storage.index().lru(null, 100).stream().map(LruEntry::digest).toList();
    }
}
