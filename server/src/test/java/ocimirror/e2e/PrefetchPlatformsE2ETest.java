package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import ocimirror.config.ConfigLoader;
import ocimirror.server.MirrorServer;
import ocimirror.server.prefetch.StartupPrefetch;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.RegistryClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pullThrough.prefetchPlatforms} with docker-registry as the upstream: an index fetched
 * through the mirror has only the listed platforms' images prefetched, while the index clients
 * get is the upstream's byte for byte; the start-up prefetch warms only those platforms too.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrefetchPlatformsE2ETest {
    private static final String ACCEPT = "application/vnd.oci.image.index.v1+json, "
            + "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json";

    DockerRegistry upstream;
    MirrorServer mirror;
    RegistryClient client;
    OciLayoutBuilder.ImageIndex app;
    OciLayoutBuilder.ImageIndex warm;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        OciLayoutBuilder b = new OciLayoutBuilder(tmp.resolve("layout"), 91);
        app = b.index(List.of(b.image("linux", "amd64", List.of(b.randomLayer("app-amd.bin", 40_000))),
                b.image("linux", "arm64", List.of(b.randomLayer("app-arm.bin", 30_000))),
                b.image("windows", "amd64", List.of(b.randomLayer("app-win.bin", 20_000)))));
        warm = b.index(List.of(b.image("linux", "amd64", List.of(b.randomLayer("warm-amd.bin", 25_000))),
                b.image("linux", "arm64", List.of(b.randomLayer("warm-arm.bin", 35_000)))));
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        RegistryClient push = new RegistryClient(upstream.hostPort());
        push.pushIndex("team/app", "1", app);
        push.pushIndex("team/warm", "1", warm);
        Path config = Files.writeString(tmp.resolve("mirror.yaml"), "listen: 127.0.0.1:0\n"
                + "data: " + tmp.resolve("data") + "\n"
                + "tls: {mode: off}\n"
                + "upstreams:\n"
                + "  - {name: up, url: \"" + upstream.url() + "\", plainHttp: true, aliases: [up.test]}\n"
                + "pullThrough:\n"
                + "  prefetchLayers: true\n"
                + "  prefetchPlatforms: [linux/amd64]\n"
                + "  prefetch: [up.test/team/warm:1]\n");
        mirror = MirrorServer.start(ConfigLoader.load(config));
        client = new RegistryClient(URI.create("http://127.0.0.1:" + mirror.localAddress().getPort()));
    }

    @AfterAll
    void stop() {
        if (mirror != null) {
            mirror.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void anIndexPrefetchesOnlyTheListedPlatformsAndIsServedAsItCame() throws Exception {
        HttpResponse<byte[]> r = client.send(client.request("/v2/team/app/manifests/1?ns=up.test")
                .header("Accept", ACCEPT).build());
        assertEquals(200, r.statusCode(), RegistryClient.describe(r));
        assertArrayEquals(app.index().bytes(), r.body(), "the upstream's index, every platform listed");
        assertEquals(app.index().digest(), r.headers().firstValue("Docker-Content-Digest").orElseThrow());

        OciLayoutBuilder.Image amd = app.byPlatform().get("linux/amd64");
        await("the linux/amd64 image prefetched", () -> fetched("team/app", amd));
        // Both platforms' manifests would have been asked for at once: by now an unwanted one shows.
        for (String other : List.of("linux/arm64", "windows/amd64")) {
            OciLayoutBuilder.Image img = app.byPlatform().get(other);
            assertEquals(0, upstream.requests("GET", "/v2/team/app/manifests/" + img.manifest().digest()), other);
            assertEquals(0, upstream.blobGets("team/app", img.layers().get(0).blob().digest()), other);
        }
    }

    @Test
    void theStartupPrefetchWarmsOnlyTheListedPlatforms() throws Exception {
        StartupPrefetch.Outcome o = mirror.startupPrefetch().done().get(60, TimeUnit.SECONDS);
        assertEquals(0, o.failed());
        OciLayoutBuilder.Image amd = warm.byPlatform().get("linux/amd64");
        OciLayoutBuilder.Image arm = warm.byPlatform().get("linux/arm64");
        await("the linux/amd64 image warmed", () -> fetched("team/warm", amd));
        assertEquals(0, upstream.requests("GET", "/v2/team/warm/manifests/" + arm.manifest().digest()));
        assertEquals(0, upstream.blobGets("team/warm", arm.layers().get(0).blob().digest()));
        assertEquals(0, upstream.blobGets("team/warm", arm.config().digest()));
    }

    /** The image's manifest, config and layer each came from the upstream exactly once. */
    private boolean fetched(String repo, OciLayoutBuilder.Image image) {
        return upstream.requests("GET", "/v2/" + repo + "/manifests/" + image.manifest().digest()) == 1
                && upstream.blobGets(repo, image.config().digest()) == 1
                && upstream.blobGets(repo, image.layers().get(0).blob().digest()) == 1;
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting: " + what);
            Thread.sleep(50);
        }
    }
}
