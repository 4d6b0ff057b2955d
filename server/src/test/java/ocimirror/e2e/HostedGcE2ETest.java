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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.GcConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServer;
import ocimirror.server.cli.CliRunner;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Garbage collection of a hosted repository while skopeo pushes into it: two pushers each push
 * three images (a shared base layer and a layer of their own), deleting the one before and
 * letting links age past the one-second grace period, while collections run back to back. Every
 * push succeeds, the images left are whole, what was deleted is collected, and {@code verify}
 * finds the store consistent.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class HostedGcE2ETest {
    private static final Duration GRACE = Duration.ofSeconds(1);
    private static final String REPO = "local/app";

    @TempDir
    Path tmp;

    @Test
    void concurrentPushesLoseNoBlobAndDeletedImagesAreCollected() throws Exception {
        Programs.require("skopeo");
        Path layout = tmp.resolve("layout");
        OciLayoutBuilder b = new OciLayoutBuilder(layout, 77);
        OciLayoutBuilder.Layer base = b.randomLayer("base.bin", 1 << 20);
        List<Image> images = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Image image = b.image("linux", "amd64", List.of(base, b.randomLayer("own" + i + ".bin", 512 << 10)));
            b.tag("t" + i, image.manifest());
            images.add(image);
        }
        b.finish();

        Path data = tmp.resolve("data");
        MirrorConfig config = MirrorConfig.defaults().withDataDir(data).withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withTls(TlsConfig.off()).withGc(new GcConfig(GRACE, Duration.ZERO));
        List<Integer> survivors = List.of(4, 5);
        try (MirrorServer mirror = MirrorServer.start(config)) {
            String hostPort = "127.0.0.1:" + mirror.localAddress().getPort();
            RegistryClient client = new RegistryClient(hostPort);
            AtomicBoolean pushing = new AtomicBoolean(true);
            AtomicInteger collections = new AtomicInteger();
            CompletableFuture<Void> collector = CompletableFuture.runAsync(() -> {
                while (pushing.get()) {
                    mirror.cache().collectNow().join();
                    collections.incrementAndGet();
                    sleep(20);
                }
            });
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<CompletableFuture<Void>> pushers = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    int thread = t;
                    Skopeo skopeo = new Skopeo(tmp.resolve("skopeo-" + t));
                    pushers.add(CompletableFuture.runAsync(() -> {
                        for (int round = 0; round < 3; round++) {
                            int i = round * 2 + thread;
                            skopeo.copy(Skopeo.oci(layout, "t" + i), "docker://" + hostPort + "/" + REPO + ":t" + i,
                                    "--preserve-digests", "--retry-times", "0");
                            if (round > 0) {
                                Image previous = images.get(i - 2);
                                HttpResponse<byte[]> del = client.send(client.request("/v2/" + REPO + "/manifests/"
                                        + previous.manifest().digest()).DELETE().build());
                                assertEquals(202, del.statusCode(), RegistryClient.describe(del));
                            }
                            sleep(GRACE.toMillis() + 200); // links age past the grace period
                        }
                    }, pool));
                }
                CompletableFuture.allOf(pushers.toArray(CompletableFuture[]::new)).get(90, TimeUnit.SECONDS);
            } finally {
                pushing.set(false);
                pool.shutdownNow();
            }
            collector.get(30, TimeUnit.SECONDS);
            assertTrue(collections.get() > 5, "collections ran during the pushes: " + collections.get());

            Skopeo reader = new Skopeo(tmp.resolve("skopeo-read"));
            for (int i : survivors) {
                reader.copy("docker://" + hostPort + "/" + REPO + ":t" + i, Skopeo.oci(tmp.resolve("pulled-" + i), "x"));
                for (OciLayoutBuilder.Blob blob : images.get(i).blobs()) {
                    HttpResponse<byte[]> r = client.get("/v2/" + REPO + "/blobs/" + blob.digest());
                    assertEquals(200, r.statusCode(), "blob " + blob.digest() + " of t" + i + " lost");
                    assertEquals(blob.digest(), OciLayoutBuilder.sha256Digest(r.body()));
                }
            }

            sleep(GRACE.toMillis() + 200);
            mirror.cache().collectNow().get(30, TimeUnit.SECONDS);
            for (int i = 0; i < images.size(); i++) {
                boolean kept = survivors.contains(i);
                OciLayoutBuilder.Blob own = images.get(i).layers().get(1).blob();
                assertEquals(kept, Files.exists(blobFile(data, own.digest())),
                        "t" + i + (kept ? " lost its layer" : "'s layer was not collected"));
                assertEquals(kept, Files.exists(blobFile(data, images.get(i).manifest().digest())),
                        "t" + i + "'s manifest blob");
            }
            assertTrue(Files.exists(blobFile(data, base.blob().digest())));
        }
        StringWriter out = new StringWriter();
        assertEquals(0, CliRunner.run(new PrintWriter(out, true), "verify", "--data", data.toString()), out.toString());
        assertTrue(out.toString().contains(": consistent"), out.toString());
        assertFalse(out.toString().contains("INCOMPLETE_IMAGE"), out.toString());
    }

    private static Path blobFile(Path data, String digest) {
        String hex = digest.substring("sha256:".length());
        return data.resolve("blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
