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
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import ocimirror.config.ConfigLoader;
import ocimirror.server.MirrorServer;
import ocimirror.server.cli.CliRunner;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.ServeProcess;
import ocimirror.testing.ThrottledProxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A graceful stop ({@link MirrorServer#close()}) while a client waits on a cold pull-through
 * download, the upstream (docker-registry) slowed by a throttling proxy: when the download ends
 * within the grace period the client gets the whole blob and it is committed; when the grace
 * period runs out first the download is abandoned, and nothing of it is committed or served after
 * a restart, which fetches it again whole.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class GracefulShutdownE2ETest {
    private static final int LAYER = 8 << 20;

    @TempDir
    Path tmp;

    @Test
    void aColdDownloadThatEndsWithinTheGracePeriodIsServedWholeAndKept() throws Exception {
        Programs.require("docker-registry");
        byte[] layer = random(41);
        String digest = OciLayoutBuilder.sha256Digest(layer);
        Path data = tmp.resolve("data");
        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"));
             ThrottledProxy slow = ThrottledProxy.start("127.0.0.1", upstream.port(), 2L << 20)) {
            new RegistryClient(upstream.hostPort()).pushBlob("team/big", layer, digest);
            Path config = config(data, slow, "60s");
            CompletableFuture<HttpResponse<byte[]>> get;
            try (MirrorServer mirror = MirrorServer.start(ConfigLoader.load(config))) {
                RegistryClient client = new RegistryClient("127.0.0.1:" + mirror.localAddress().getPort());
                get = CompletableFuture.supplyAsync(() -> client.get("/v2/a/team/big/blobs/" + digest));
                ServeProcess.awaitIngest(data, 1 << 20, Duration.ofSeconds(30));
                assertTrue(ServeProcess.largestIngest(data) < LAYER, "the stop should come mid-download");
                CompletableFuture.runAsync(mirror::close).get(90, TimeUnit.SECONDS);
            }
            HttpResponse<byte[]> r = get.get(10, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode());
            assertEquals(digest, OciLayoutBuilder.sha256Digest(r.body()), "the whole blob, the right bytes");
            assertTrue(Files.exists(blobFile(data, digest)), "the download finished in the grace period is kept");

            // Served from the cache after a restart, with the upstream gone.
            slow.close();
            try (MirrorServer second = MirrorServer.start(ConfigLoader.load(config))) {
                HttpResponse<byte[]> again = new RegistryClient("127.0.0.1:" + second.localAddress().getPort())
                        .get("/v2/a/team/big/blobs/" + digest);
                assertEquals(200, again.statusCode());
                assertEquals(digest, OciLayoutBuilder.sha256Digest(again.body()));
            }
            assertConsistent(data, config);
        }
    }

    @Test
    void aColdDownloadCutAtTheEndOfTheGracePeriodLeavesNothingBehind() throws Exception {
        Programs.require("docker-registry");
        byte[] layer = random(42);
        String digest = OciLayoutBuilder.sha256Digest(layer);
        Path data = tmp.resolve("data");
        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"));
             ThrottledProxy slow = ThrottledProxy.start("127.0.0.1", upstream.port(), 256L << 10)) {
            new RegistryClient(upstream.hostPort()).pushBlob("team/big", layer, digest);
            Path config = config(data, slow, "1s");
            CompletableFuture<HttpResponse<byte[]>> get;
            try (MirrorServer mirror = MirrorServer.start(ConfigLoader.load(config))) {
                RegistryClient client = new RegistryClient("127.0.0.1:" + mirror.localAddress().getPort());
                get = CompletableFuture.supplyAsync(() -> client.get("/v2/a/team/big/blobs/" + digest));
                ServeProcess.awaitIngest(data, 256 << 10, Duration.ofSeconds(30));
                CompletableFuture.runAsync(mirror::close).get(60, TimeUnit.SECONDS); // returns by itself
            }
            assertTrue(get.handle((r, e) -> e != null || r.body().length < LAYER).get(10, TimeUnit.SECONDS),
                    "the client cannot have had the whole blob");
            assertFalse(Files.exists(blobFile(data, digest)), "an abandoned download was committed");
            assertEquals(0, ServeProcess.largestIngest(data), "the abandoned download's ingest file is deleted");

            slow.setRate(1L << 40);
            try (MirrorServer second = MirrorServer.start(ConfigLoader.load(config))) {
                try (var files = Files.list(data.resolve("ingest"))) {
                    assertEquals(0, files.count());
                }
                HttpResponse<byte[]> again = new RegistryClient("127.0.0.1:" + second.localAddress().getPort())
                        .get("/v2/a/team/big/blobs/" + digest);
                assertEquals(200, again.statusCode());
                assertEquals(digest, OciLayoutBuilder.sha256Digest(again.body()), "fetched again, whole");
            }
            assertConsistent(data, config);
        }
    }

    private Path config(Path data, ThrottledProxy upstream, String grace) throws Exception {
        return Files.writeString(tmp.resolve("mirror.yaml"), "listen: \"127.0.0.1:0\"\ndata: " + data + "\n"
                + "upstreams:\n  - {name: a, url: 'http://" + upstream.hostPort() + "', plainHttp: true,"
                + " aliases: [registry-a.test]}\n"
                + "hosted: [local]\npullThrough: {prefetchLayers: false}\ntls: {mode: off}\n"
                + "shutdown: {gracePeriod: " + grace + "}\n");
    }

    private static byte[] random(long seed) {
        byte[] b = new byte[LAYER];
        new Random(seed).nextBytes(b);
        return b;
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
