package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import ocimirror.config.ConfigLoader;
import ocimirror.server.MirrorServer;
import ocimirror.server.cli.CliRunner;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.ServeProcess;
import ocimirror.testing.Skopeo;
import ocimirror.testing.ThrottledProxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of {@code ocimirror serve} (its own JVM) in the middle of a large upstream fetch
 * and in the middle of a push, each slowed by a throttling proxy so the kill lands mid-transfer.
 * After a restart (in this JVM): the ingest area is empty, no partial blob was committed or is served,
 * {@code verify} finds the store consistent, and the interrupted image pulls (or pushes) fine.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CrashRecoveryE2ETest {
    private static final int LAYER = 8 << 20;
    private static final long SLOW = 3L << 20;
    private static final long FAST = 1L << 40;

    @TempDir
    Path tmp;

    @Test
    void killedDuringALargeUpstreamFetch() throws Exception {
        Programs.require("skopeo");
        Programs.require("docker-registry");
        Image image = image("fetch", 31);
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        Path data = tmp.resolve("data");
        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"));
             ThrottledProxy slow = ThrottledProxy.start("127.0.0.1", upstream.port(), SLOW)) {
            skopeo.copy(Skopeo.oci(tmp.resolve("fetch"), "v1"), "docker://" + upstream.hostPort() + "/team/big:v1",
                    "--preserve-digests");
            Path config = Files.writeString(tmp.resolve("mirror.yaml"), "listen: \"127.0.0.1:0\"\ndata: " + data + "\n"
                    + "upstreams:\n  - {name: a, url: 'http://" + slow.hostPort() + "', plainHttp: true,"
                    + " aliases: [registry-a.test]}\n"
                    + "hosted: [local]\npullThrough: {prefetchLayers: false}\ntls: {mode: off}\n");
            String layer = image.layers().get(0).blob().digest();

            try (ServeProcess first = ServeProcess.start(tmp.resolve("first.log"), "--config", config.toString())) {
                RegistryClient client = new RegistryClient(first.hostPort());
                CompletableFuture<HttpResponse<byte[]>> get = CompletableFuture.supplyAsync(
                        () -> client.get("/v2/a/team/big/blobs/" + layer));
                ServeProcess.awaitIngest(data, 1 << 20, Duration.ofSeconds(30));
                first.kill();
                get.handle((r, e) -> null).get(10, TimeUnit.SECONDS);
            }
            assertTrue(ServeProcess.largestIngest(data) > 0, "the kill should have left a partial download");
            assertFalse(Files.exists(blobFile(data, layer)), "a partial download was committed");

            slow.setRate(FAST);
            // The restart may as well be in this JVM: what matters is what the killed one left behind.
            try (MirrorServer second = MirrorServer.start(ConfigLoader.load(config))) {
                assertEquals(0, ServeProcess.largestIngest(data), "ingest/ not cleaned at start-up");
                try (var files = Files.list(data.resolve("ingest"))) {
                    assertEquals(0, files.count());
                }
                String hostPort = "127.0.0.1:" + second.localAddress().getPort();
                RegistryClient client = new RegistryClient(hostPort);
                HttpResponse<byte[]> blob = client.get("/v2/a/team/big/blobs/" + layer);
                assertEquals(200, blob.statusCode());
                assertEquals(layer, OciLayoutBuilder.sha256Digest(blob.body()), "a wrong body was served");
                skopeo.copy("docker://" + hostPort + "/a/team/big:v1", Skopeo.oci(tmp.resolve("pulled"), "x"));
            }
        }
        assertConsistent(data, tmp.resolve("mirror.yaml"));
    }

    @Test
    void killedDuringAPush() throws Exception {
        Programs.require("skopeo");
        Image image = image("push", 32);
        Path data = tmp.resolve("data");
        Path config = Files.writeString(tmp.resolve("plain.yaml"), "listen: \"127.0.0.1:0\"\ndata: " + data
                + "\ntls: {mode: off}\n");
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        String layer = image.layers().get(0).blob().digest();

        CompletableFuture<Processes.Result> push;
        try (ServeProcess first = ServeProcess.start(tmp.resolve("first.log"), "--config", config.toString());
             ThrottledProxy slow = ThrottledProxy.start("127.0.0.1", first.port(), SLOW)) {
            push = CompletableFuture.supplyAsync(() -> skopeo.copyWith(
                    List.of("--dest-tls-verify=false", "--retry-times", "0", "--preserve-digests"),
                    Skopeo.oci(tmp.resolve("push"), "v1"), "docker://" + slow.hostPort() + "/local/big:v1"));
            ServeProcess.awaitIngest(data, 1 << 20, Duration.ofSeconds(30));
            first.kill();
        }
        assertTrue(ServeProcess.largestIngest(data) > 0, "the kill should have left a partial upload");
        assertFalse(Files.exists(blobFile(data, layer)), "a partial upload was committed");

        try (MirrorServer second = MirrorServer.start(ConfigLoader.load(config))) {
            try (var files = Files.list(data.resolve("ingest"))) {
                assertEquals(0, files.count(), "ingest/ not cleaned at start-up");
            }
            String hostPort = "127.0.0.1:" + second.localAddress().getPort();
            RegistryClient client = new RegistryClient(hostPort);
            assertEquals(404, client.get("/v2/local/big/blobs/" + layer).statusCode());
            assertEquals(404, client.get("/v2/local/big/manifests/v1").statusCode());
            skopeo.copy(Skopeo.oci(tmp.resolve("push"), "v1"), "docker://" + hostPort + "/local/big:v1",
                    "--preserve-digests");
            skopeo.copy("docker://" + hostPort + "/local/big:v1", Skopeo.oci(tmp.resolve("pulled"), "x"));
        }
        // skopeo gives up on its own (it backs off a little first, hence checked only now).
        assertTrue(push.get(60, TimeUnit.SECONDS).exitCode() != 0, "a push to a killed server cannot succeed");
        assertConsistent(data, config);
    }

    private Image image(String dir, long seed) throws Exception {
        OciLayoutBuilder b = new OciLayoutBuilder(tmp.resolve(dir), seed);
        Image image = b.image("linux", "amd64", List.of(b.randomLayer("big.bin", LAYER)));
        b.tag("v1", image.manifest());
        b.finish();
        return image;
    }

    private static void assertConsistent(Path data, Path config) {
        StringWriter out = new StringWriter();
        int status = CliRunner.run(new PrintWriter(out, true), "verify", "--data", data.toString(),
                "--config", config.toString());
        assertEquals(0, status, out.toString());
        assertTrue(out.toString().contains(": consistent"), out.toString());
    }

    private static Path blobFile(Path data, String digest) {
        String hex = digest.substring("sha256:".length());
        return data.resolve("blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }
}
