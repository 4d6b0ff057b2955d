package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.server.MirrorServer;
import ocimirror.server.prefetch.StartupPrefetch;
import ocimirror.testing.Bundles;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prefetch through a running HTTPS mirror (its generated CA) with docker-registry as the
 * upstream: the {@code pullThrough.prefetch} list warmed at start and {@code ocimirror prefetch}
 * fill the cache, so that pulls keep working once the upstream is stopped.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrefetchE2ETest {
    Path tmp;
    DockerRegistry upstream;
    MirrorServer mirror;
    String mirrorUrl;
    Path ca;
    OciLayoutBuilder.ImageIndex app;
    OciLayoutBuilder.ImageIndex multi;
    OciLayoutBuilder.Image warm;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        Programs.require("skopeo");
        OciLayoutBuilder b = new OciLayoutBuilder(tmp.resolve("layout"), 41);
        app = b.index(List.of(b.image("linux", "amd64", List.of(b.randomLayer("app-amd.bin", 150_000))),
                b.image("linux", "arm64", List.of(b.randomLayer("app-arm.bin", 120_000)))));
        multi = b.index(List.of(b.image("linux", "amd64", List.of(b.randomLayer("m-amd.bin", 20_000))),
                b.image("linux", "arm64", List.of(b.randomLayer("m-arm.bin", 30_000)))));
        warm = b.image("linux", "amd64", List.of(b.randomLayer("warm.bin", 60_000)));
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        RegistryClient push = new RegistryClient(upstream.hostPort());
        push.pushIndex("team/app", "1", app);
        push.pushIndex("team/multi", "2", multi);
        push.pushImage("team/warm", "1", warm);

        UpstreamConfig up = UpstreamConfig.builder("up", upstream.url()).plainHttp(true).aliases("up.test").build();
        // prefetchLayers off: only the prefetches fetch layers here. TLS: the default, a generated CA.
        MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), tmp.resolve("data"), null,
                null, List.of(up), List.of("local"), new MirrorConfig.PullThrough(false, null,
                List.of("up.test/team/warm:1", "up.test/team/absent:1")), null, null);
        mirror = MirrorServer.start(config);
        mirrorUrl = "https://127.0.0.1:" + mirror.localAddress().getPort();
        ca = tmp.resolve("data/pki").resolve(CertificateAuthority.CA_CERT_FILE);
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
    void prefetchedImagesArePulledWithTheUpstreamStopped() throws Exception {
        StartupPrefetch.Outcome warmed = mirror.startupPrefetch().done().get(30, TimeUnit.SECONDS);
        assertEquals(new StartupPrefetch.Outcome(2, 1, 2), warmed, "warm's config and layer; absent is not found");

        Bundles.Cli untrusted = Bundles.ocimirror("prefetch", "up.test/team/app:1", "--mirror", mirrorUrl);
        assertEquals(1, untrusted.exit(), untrusted.toString());
        assertTrue(untrusted.out().contains("FAILED up.test/team/app:1: TLS with the mirror failed"), untrusted.toString());
        assertTrue(untrusted.out().contains("trust its CA with --ca-file"), untrusted.toString());

        Bundles.Cli all = Bundles.ocimirror("prefetch", "up.test/team/app:1", "up.test/team/nope:1",
                "--mirror", mirrorUrl, "--ca-file", ca.toString(), "--progress-interval", "0s");
        assertEquals(1, all.exit(), "one image is missing: " + all);
        assertTrue(all.out().contains("prefetched up.test/team/app:1 (" + app.index().digest()
                + ", 3 manifests, 4 blobs)"), all.toString());
        assertTrue(all.out().contains("FAILED up.test/team/nope:1: manifest 1: 404 MANIFEST_UNKNOWN"), all.toString());
        assertTrue(all.err().lines().anyMatch(l -> l.matches("prefetch: .* / .* \\(\\d+%\\), .*")), all.toString());

        Bundles.Cli arm = Bundles.ocimirror("prefetch", "up.test/team/multi:2", "--platform", "linux/arm64",
                "--mirror", mirrorUrl, "--ca-file", ca.toString());
        assertEquals(0, arm.exit(), arm.toString());
        OciLayoutBuilder.Image armImage = multi.byPlatform().get("linux/arm64");
        OciLayoutBuilder.Image amdImage = multi.byPlatform().get("linux/amd64");
        assertEquals(1, upstream.blobGets("team/multi", armImage.layers().get(0).blob().digest()));
        assertEquals(0, upstream.blobGets("team/multi", amdImage.layers().get(0).blob().digest()),
                "only the asked platform");

        upstream.stop();
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        String hostPort = "127.0.0.1:" + mirror.localAddress().getPort();
        skopeo.copyAll(Skopeo.docker(hostPort, "up.test/team/app", "1"), Skopeo.oci(tmp.resolve("app-out"), "1"));
        assertEquals(app.index().digest(), new ObjectMapper().readTree(tmp.resolve("app-out/index.json").toFile())
                .path("manifests").get(0).path("digest").asText(), "every platform, from the cache alone");
        skopeo.copy(Skopeo.docker(hostPort, "up.test/team/warm", "1"), Skopeo.oci(tmp.resolve("warm-out"), "1"),
                "--preserve-digests");
        skopeo.copy(Skopeo.docker(hostPort, "up.test/team/multi", "2"), Skopeo.oci(tmp.resolve("arm-out"), "2"),
                "--override-arch", "arm64", "--override-os", "linux");
    }
}
