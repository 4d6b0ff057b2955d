package ocimirror.server.cache;

import static ocimirror.testing.Images.bytes;
import static ocimirror.testing.Images.manifest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import ocimirror.config.CacheConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.registry.BlobUploads;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.registry.UploadSession;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pins changed while the maintenance runs: stored, in force for eviction at once, and kept across a restart. */
class CacheMaintenanceTest {
    private static final String CONFIG_PIN = "docker.io/library/busybox:1.36";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ExecutorService executor = Executors.newFixedThreadPool(2);
    MirrorConfig config;
    Storage storage;
    RegistryService service;
    CacheMaintenance cache;

    @BeforeEach
    void start() throws Exception {
        UpstreamConfig hub = UpstreamConfig.builder("docker.io", "https://registry-1.docker.io")
                .aliases("docker.io").isDefault(true).build();
        config = MirrorConfig.defaults().withDataDir(dir).withRouting(List.of(hub), List.of("local"))
                .withCache(new CacheConfig(CacheConfig.UNBOUNDED, 0.9, 0.8, List.of(CONFIG_PIN)));
        storage = Storage.open(dir, clock);
        service = new RegistryService(storage.blobs(), storage.metadata(), clock,
                new RegistryService.Settings(1 << 20, 1 << 20, true, Duration.ofHours(1)));
        cache = start(config);
    }

    // No pull-through service: nothing is fetched, the pins' bookkeeping is what is tested here.
    CacheMaintenance start(MirrorConfig c) {
        return CacheMaintenance.start(c, storage, executor, clock, new UpstreamRouter(c.upstreams(), c.hosted()),
                null, service);
    }

    @AfterEach
    void stop() {
        cache.close();
        executor.shutdown();
        storage.close();
    }

    @Test
    void anAddedPinIsStoredInForceAndListedAfterTheConfigs() throws Exception {
        assertEquals(List.of(CONFIG_PIN), images());
        CacheMaintenance.PinAdded added = cache.addPin("alpine:3.20").get(10, TimeUnit.SECONDS);
        assertTrue(added.created());
        assertEquals(RepoName.of("docker.io/library/alpine"), added.pin().target().repo());
        added.refreshed().get(10, TimeUnit.SECONDS); // nothing to fetch without upstreams: done at once
        assertEquals(List.of(CONFIG_PIN, "alpine:3.20"), images());
        assertEquals(List.of("alpine:3.20"), storage.index().pins());
        assertFalse(cache.pinnedByConfig("alpine:3.20"));

        assertFalse(cache.addPin("alpine:3.20").get(10, TimeUnit.SECONDS).created(), "pinned already");
        assertFalse(cache.addPin(CONFIG_PIN).get(10, TimeUnit.SECONDS).created(), "in cache.pins already");
        assertEquals(List.of(CONFIG_PIN, "alpine:3.20"), images());
        assertEquals(List.of("alpine:3.20"), storage.index().pins(), "a config pin is not stored again");
    }

    @Test
    void removingTakesAStoredPinOutOfForceButNeverAConfigOne() throws Exception {
        cache.addPin("alpine:3.20").get(10, TimeUnit.SECONDS);
        assertEquals(CacheMaintenance.PinRemoval.REMOVED, cache.removePin("alpine:3.20").get(10, TimeUnit.SECONDS));
        assertEquals(List.of(CONFIG_PIN), images());
        assertEquals(List.of(), storage.index().pins());
        assertEquals(CacheMaintenance.PinRemoval.NOT_PINNED, cache.removePin("alpine:3.20").get(10, TimeUnit.SECONDS));
        assertEquals(CacheMaintenance.PinRemoval.IN_CONFIG, cache.removePin(CONFIG_PIN).get(10, TimeUnit.SECONDS));
        assertEquals(List.of(CONFIG_PIN), images());
    }

    @Test
    void anImageNoUpstreamServesIsRefusedAtOnceAndNothingIsStored() {
        IllegalArgumentException syntax = assertThrows(IllegalArgumentException.class, () -> cache.addPin("Not!An/Image"));
        assertTrue(syntax.getMessage().contains("is not an image reference"), syntax.getMessage());
        IllegalArgumentException unrouted = assertThrows(IllegalArgumentException.class,
                () -> cache.addPin("quay.io/coreos/etcd:v3"));
        assertTrue(unrouted.getMessage().contains("quay.io/coreos/etcd:v3"), unrouted.getMessage());
        assertEquals(List.of(), storage.index().pins());
        assertEquals(List.of(CONFIG_PIN), images());
    }

    @Test
    void evictionProtectsAPinFromTheMomentItIsAddedUntilItIsRemoved() throws Exception {
        RepoName repo = RepoName.of("local/tools");
        byte[] config = bytes("{\"architecture\":\"amd64\",\"os\":\"linux\"}");
        byte[] layer = bytes("the tools layer");
        push(repo, config);
        push(repo, layer);
        byte[] m = manifest(config, layer);
        service.putManifest(repo, new Reference.Tag("1"), MediaTypes.OCI_MANIFEST, m);
        Set<Digest> image = Set.of(Digest.sha256(m), Digest.sha256(config), Digest.sha256(layer));
        assertTrue(cache.pinnedDigests().stream().noneMatch(image::contains));

        cache.addPin("local/tools:1").get(10, TimeUnit.SECONDS);
        assertTrue(cache.pinnedDigests().containsAll(image), cache.pinnedDigests().toString());

        cache.removePin("local/tools:1").get(10, TimeUnit.SECONDS);
        assertTrue(cache.pinnedDigests().stream().noneMatch(image::contains));
    }

    @Test
    void storedPinsAreInForceAfterARestart() throws Exception {
        cache.addPin("team/app:v1").get(10, TimeUnit.SECONDS);
        cache.close();
        cache = start(config);
        assertEquals(List.of(CONFIG_PIN, "team/app:v1"), images());
        assertFalse(cache.pinnedByConfig("team/app:v1"));
        assertTrue(cache.pinnedByConfig(CONFIG_PIN));
    }

    @Test
    void afterCloseChangesAreRefused() {
        cache.close();
        var e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> cache.addPin("alpine:3.20").get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof java.util.concurrent.RejectedExecutionException, e.toString());
        assertEquals(List.of(), storage.index().pins());
    }

    private List<String> images() {
        return cache.pins().stream().map(PinnedImage::image).toList();
    }

    private void push(RepoName repo, byte[] content) {
        BlobUploads uploads = service.uploads();
        UploadSession s = uploads.start(repo);
        uploads.append(s, ByteBuffer.wrap(content));
        uploads.complete(s, Digest.sha256(content));
    }
}
