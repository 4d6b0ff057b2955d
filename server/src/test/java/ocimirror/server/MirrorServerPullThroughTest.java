package ocimirror.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wired server with an upstream (docker-registry) on real sockets: what the embedded-channel
 * tests cannot show, sendfile from a growing file over epoll and a client that does not read.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MirrorServerPullThroughTest {
    private static final String ACCEPT = "application/vnd.oci.image.index.v1+json, "
            + "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json";

    DockerRegistry upstream;
    MirrorServer mirror;
    OciLayoutBuilder.Image image;
    String base;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        Programs.require("skopeo");
        OciLayoutBuilder b = new OciLayoutBuilder(tmp.resolve("layout"), 5);
        image = b.image("linux", "amd64", List.of(b.randomLayer("big.bin", 12 << 20)));
        b.tag("1", image.manifest());
        b.finish();
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        new Skopeo(tmp.resolve("skopeo")).copy(Skopeo.oci(tmp.resolve("layout"), "1"),
                "docker://" + upstream.hostPort() + "/team/app:1", "--preserve-digests");
        UpstreamConfig up = UpstreamConfig.builder("up", upstream.url()).plainHttp(true).aliases("up.test").build();
        MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), tmp.resolve("mirror"),
                null, null, List.of(up), List.of("local"), new MirrorConfig.PullThrough(false, null),
                TlsConfig.off(), null);
        mirror = MirrorServer.start(config);
        base = "127.0.0.1:" + mirror.localAddress().getPort();
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
    void aManifestThroughTheMirrorIsTheUpstreamsAndEchoesTheNamespace() throws Exception {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://" + base
                + "/v2/team/app/manifests/1?ns=up.test")).header("Accept", ACCEPT).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        assertArrayEquals(image.manifest().bytes(), r.body());
        assertEquals(image.manifest().digest(), r.headers().firstValue("Docker-Content-Digest").orElseThrow());
        assertEquals("up.test", r.headers().firstValue("OCI-Namespace").orElseThrow());
    }

    @Test
    void aClientThatDoesNotReadHoldsBackNeitherTheDownloadNorOtherClients() throws Exception {
        OciLayoutBuilder.Blob layer = image.layers().get(0).blob();
        byte[] expected = layer.bytes();
        String path = "/v2/up.test/team/app/blobs/" + layer.digest();
        try (Socket stalled = new Socket()) {
            // A small window from the start (shrinking it later only makes the sender back off).
            stalled.setReceiveBufferSize(64 * 1024);
            stalled.connect(new InetSocketAddress("127.0.0.1", mirror.localAddress().getPort()), 5000);
            OutputStream out = stalled.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: mirror\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = stalled.getInputStream();
            String headers = readHeaders(in);
            assertTrue(headers.startsWith("HTTP/1.1 200"), headers);
            assertTrue(headers.contains("content-length: " + expected.length), headers);

            // Three more clients while the first one reads nothing: all complete, from one download.
            List<CompletableFuture<HttpResponse<byte[]>>> others = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                others.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://" + base + path)).build(),
                        HttpResponse.BodyHandlers.ofByteArray()));
            }
            for (CompletableFuture<HttpResponse<byte[]>> f : others) {
                HttpResponse<byte[]> r = f.get(30, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode());
                assertArrayEquals(expected, r.body());
            }
            // Now the slow one reads everything, and gets every byte.
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            byte[] buf = new byte[65536];
            while (body.size() < expected.length) {
                int n = in.read(buf);
                if (n < 0) {
                    break;
                }
                body.write(buf, 0, n);
            }
            assertArrayEquals(expected, body.toByteArray());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3); // logged just after it was answered
        while (upstream.blobGets("team/app", layer.digest()) == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(1, upstream.blobGets("team/app", layer.digest()));
    }

    private static String readHeaders(InputStream in) throws java.io.IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            head.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1
                    : 0;
        }
        return head.toString(StandardCharsets.US_ASCII).toLowerCase(java.util.Locale.ROOT)
                .replaceFirst("^http", "HTTP");
    }
}
