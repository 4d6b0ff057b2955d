package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import ocimirror.config.ConfigLoader;
import ocimirror.server.MirrorServer;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.PromText;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.ThrottledProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code upstreams[].maxConnections} and {@code maxBandwidth} with docker-registry as the
 * upstream, three times over: {@code one} (one connection, behind a slowed proxy that counts the
 * connections open at once), {@code short} (one connection and a 2 s first-byte timeout, behind
 * another slowed proxy) and {@code bw} (1 MiB/s, direct).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpstreamLimitsE2ETest {
    private static final String REPO = "team/app";

    Path tmp;
    DockerRegistry upstream;
    ThrottledProxy oneProxy;
    ThrottledProxy shortProxy;
    MirrorServer mirror;
    RegistryClient client;
    final ExecutorService pool = Executors.newFixedThreadPool(4);
    final Random random = new Random(16);

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        // Slow enough that concurrent pulls overlap at the upstream unless the mirror queues them.
        oneProxy = ThrottledProxy.start("127.0.0.1", upstream.port(), 2 << 20);
        shortProxy = ThrottledProxy.start("127.0.0.1", upstream.port(), 1 << 20);
        Path config = Files.writeString(tmp.resolve("mirror.yaml"), "listen: 127.0.0.1:0\n"
                + "data: " + tmp.resolve("data") + "\n"
                + "tls: {mode: off}\n"
                + "pullThrough: {prefetchLayers: false}\n"
                + "upstreams:\n"
                + "  - {name: one, url: \"http://" + oneProxy.hostPort() + "\", plainHttp: true, maxConnections: 1}\n"
                + "  - {name: short, url: \"http://" + shortProxy.hostPort() + "\", plainHttp: true, maxConnections: 1,\n"
                + "     timeouts: {firstByte: 2s}}\n"
                + "  - {name: bw, url: \"" + upstream.url() + "\", plainHttp: true, maxBandwidth: 1MiB/s}\n");
        mirror = MirrorServer.start(ConfigLoader.load(config));
        client = new RegistryClient(URI.create("http://127.0.0.1:" + mirror.localAddress().getPort()));
    }

    @AfterAll
    void stop() {
        pool.shutdownNow();
        if (mirror != null) {
            mirror.close();
        }
        for (AutoCloseable c : new AutoCloseable[] {oneProxy, shortProxy, upstream}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // closing anyway
            }
        }
    }

    @Test
    void withOneConnectionConcurrentColdPullsReachTheUpstreamOneAtATime() throws Exception {
        List<byte[]> blobs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            blobs.add(push(512 << 10));
        }
        List<CompletableFuture<HttpResponse<byte[]>>> pulls = new ArrayList<>();
        for (byte[] b : blobs) {
            pulls.add(CompletableFuture.supplyAsync(() -> client.get("/v2/one/" + REPO + "/blobs/" + digest(b)), pool));
        }
        for (int i = 0; i < blobs.size(); i++) {
            HttpResponse<byte[]> r = pulls.get(i).get(60, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), RegistryClient.describe(r));
            assertArrayEquals(blobs.get(i), r.body(), "blob " + i);
            assertEquals(1, upstream.blobGets(REPO, digest(blobs.get(i))));
        }
        assertEquals(1, oneProxy.maxOpenConnections(), "one connection at a time, so one request at a time");
        PromText m = PromText.parse(mirror.metrics().scrape());
        assertTrue(m.value("ocimirror_upstream_connections_waits_total", "upstream", "one") >= 1, "waits counted");
        assertTrue(m.value("ocimirror_upstream_connections_wait_seconds_sum", "upstream", "one") > 0);
        assertEquals(0, m.value("ocimirror_upstream_connections_in_use", "upstream", "one"));
    }

    @Test
    void aClientThatLeavesLeavesTheQueueAndAWaitPastTheFirstByteTimeoutAnswers503() throws Exception {
        byte[] big = push(4 << 20);  // four seconds through the 1 MiB/s proxy: holds the only connection
        byte[] small = push(1000);
        byte[] gone = push(1000);
        CompletableFuture<HttpResponse<byte[]>> first = CompletableFuture.supplyAsync(
                () -> client.get("/v2/short/" + REPO + "/blobs/" + digest(big)), pool);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (shortProxy.maxOpenConnections() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10); // until the first request holds the connection
        }
        try (Socket leaving = new Socket("127.0.0.1", mirror.localAddress().getPort())) {
            leaving.getOutputStream().write(("GET /v2/short/" + REPO + "/blobs/" + digest(gone) + " HTTP/1.1\r\n"
                    + "Host: mirror\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            awaitQueued(1);
        }
        awaitQueued(0); // well before the 2 s timeout, which would count in timeouts_total below

        long t0 = System.nanoTime();
        HttpResponse<byte[]> second = client.get("/v2/short/" + REPO + "/blobs/" + digest(small));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(503, second.statusCode(), RegistryClient.describe(second));
        String body = new String(second.body(), StandardCharsets.UTF_8);
        assertTrue(body.contains("\"code\":\"UNAVAILABLE\"") && body.contains("maxConnections"), body);
        assertTrue(waited >= 1900, "answered after the 2 s first-byte timeout, not at once: " + waited + " ms");
        assertEquals(0, upstream.blobGets(REPO, digest(small)), "it never reached the upstream");
        assertEquals(0, upstream.blobGets(REPO, digest(gone)), "nor did the one whose client left");

        HttpResponse<byte[]> r = first.get(60, TimeUnit.SECONDS);
        assertEquals(200, r.statusCode());
        assertArrayEquals(big, r.body());
        PromText m = PromText.parse(mirror.metrics().scrape());
        assertEquals(1, m.value("ocimirror_upstream_connections_timeouts_total", "upstream", "short"),
                "the 503 only: the request whose client left did not wait for its timeout");
    }

    private void awaitQueued(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        double queued;
        while ((queued = PromText.parse(mirror.metrics().scrape()).value("ocimirror_upstream_connections_queued",
                "upstream", "short")) != n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(n, queued, "requests queued for upstream 'short'");
    }

    @Test
    void maxBandwidthPacesADownload() throws Exception {
        byte[] blob = push(3 << 20);
        long t0 = System.nanoTime();
        HttpResponse<byte[]> r = client.get("/v2/bw/" + REPO + "/blobs/" + digest(blob));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(200, r.statusCode(), RegistryClient.describe(r));
        assertArrayEquals(blob, r.body());
        // 3 MiB at 1 MiB/s, less the 100 ms burst and the last read: a lower bound that slowness cannot break.
        assertTrue(millis >= 2500, "took " + millis + " ms");
        PromText m = PromText.parse(mirror.metrics().scrape());
        assertTrue(m.value("ocimirror_upstream_bandwidth_paused_seconds_total", "upstream", "bw") >= 2.0);
    }

    private byte[] push(int size) {
        byte[] b = new byte[size];
        random.nextBytes(b);
        new RegistryClient(upstream.hostPort()).pushBlob(REPO, b, digest(b));
        return b;
    }

    private static String digest(byte[] b) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
