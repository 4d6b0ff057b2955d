package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import ocimirror.config.CredentialSource;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.UpstreamUrl;
import ocimirror.server.MirrorServer;
import ocimirror.testing.MutableClock;
import ocimirror.testing.Programs;
import ocimirror.testing.SecuredUpstream;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One upstream with two URLs, both docker-registry over TLS with htpasswd, each with its own CA
 * and its own user: with the first stopped, pulls are served by the second (with the second's
 * CA and credentials, and verified as strictly); the first, back up, is used again once its
 * back-off has passed on the mirror's clock.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class FailoverE2ETest {
    private static final String ACCEPT = "application/vnd.oci.image.manifest.v1+json";

    SecuredUpstream a;
    SecuredUpstream b;
    MirrorServer mirror;
    final MutableClock clock = new MutableClock(Instant.now());
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    TinyImage one;
    TinyImage two;
    TinyImage tampered;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        Programs.requireAll("docker-registry", "skopeo", "htpasswd", "openssl");
        a = SecuredUpstream.start(tmp.resolve("a"), "primary", "alice", "secret-a");
        b = SecuredUpstream.start(tmp.resolve("b"), "secondary", "bob", "secret-b");
        one = TinyImage.write(tmp.resolve("one"), "1", 4096, 1);
        two = TinyImage.write(tmp.resolve("two"), "2", 4096, 2);
        tampered = TinyImage.write(tmp.resolve("three"), "3", 4096, 3);
        for (SecuredUpstream u : List.of(a, b)) {
            for (TinyImage i : List.of(one, two)) {
                u.registry().push(i, "team/app:" + i.tag(), u.pki().certDir(), u.creds());
            }
        }
        b.registry().push(tampered, "team/app:3", b.pki().certDir(), b.creds());
        // The secondary now holds a layer whose bytes do not match its digest.
        Path layer = b.registry().blobFile(tampered.layerDigest().toString());
        byte[] bad = Files.readAllBytes(layer);
        bad[bad.length / 2] ^= 1;
        Files.write(layer, bad);

        Path password = Files.writeString(tmp.resolve("b-password"), "secret-b\n");
        UpstreamConfig up = a.upstreamConfig("up").aliases("up.test")
                .failover(new UpstreamUrl(URI.create(b.registry().url()), b.pki().caCert(),
                        new CredentialSource.PasswordFile("bob", password)))
                .build();
        mirror = MirrorServer.start(MirrorConfig.defaults().withTls(TlsConfig.off())
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0)).withDataDir(tmp.resolve("mirror"))
                .withRouting(List.of(up), List.of("local"))
                .withPullThrough(new MirrorConfig.PullThrough(false, null)), clock); // no layer prefetch: each GET is ours
    }

    @AfterAll
    void stop() {
        for (AutoCloseable c : new AutoCloseable[] {mirror, a, b}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // keep stopping the others
            }
        }
    }

    @Test
    void theSecondUrlServesWhileTheFirstIsDownAndTheFirstIsUsedAgainAfterItsBackOff() throws Exception {
        a.registry().stop();
        HttpResponse<byte[]> m = get("/v2/up.test/team/app/manifests/1");
        assertEquals(200, m.statusCode());
        assertArrayEquals(one.manifest(), m.body());
        assertArrayEquals(one.layer(), get("/v2/up.test/team/app/blobs/" + one.layerDigest()).body());
        assertEquals(1, b.registry().blobGets("team/app", one.layerDigest().toString()));
        String urlA = "url=\"https://" + a.registry().hostPort() + "\"";
        assertTrue(metric("ocimirror_upstream_url_backoff", urlA).endsWith(" 1.0"), metric("ocimirror_upstream_url_backoff", urlA));

        // What the second URL sends is verified like anything else: a corrupted layer is never served whole.
        assertFalse(servedWhole("/v2/up.test/team/app/blobs/" + tampered.layerDigest(), tampered.layer()));
        assertFalse(servedWhole("/v2/up.test/team/app/blobs/" + tampered.layerDigest(), tampered.layer()),
                "nor cached");

        // The first URL is back, but backed off: the second still answers until the back-off ends.
        a.registry().start();
        assertEquals(200, get("/v2/up.test/team/app/manifests/2").statusCode());
        assertEquals(0, a.registry().requests("GET", "/v2/team/app/manifests/2"));
        assertEquals(1, b.registry().requests("GET", "/v2/team/app/manifests/2"));

        clock.advance(Duration.ofSeconds(11));
        assertArrayEquals(two.layer(), get("/v2/up.test/team/app/blobs/" + two.layerDigest()).body());
        // (a 401 and the authenticated GET: A's first request since it came back)
        assertTrue(a.registry().blobGets("team/app", two.layerDigest().toString()) > 0, "local first again");
        assertEquals(0, b.registry().blobGets("team/app", two.layerDigest().toString()));
        assertTrue(metric("ocimirror_upstream_url_backoff", urlA).endsWith(" 0.0"));
    }

    private HttpResponse<byte[]> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + mirror.localAddress().getPort() + path))
                .header("Accept", ACCEPT).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private boolean servedWhole(String path, byte[] expected) throws InterruptedException {
        try {
            HttpResponse<byte[]> r = get(path);
            return r.statusCode() == 200 && Arrays.equals(expected, r.body());
        } catch (IOException cut) {
            return false; // the connection was cut mid-body, as it must be on a digest mismatch
        }
    }

    private String metric(String name, String label) {
        return mirror.metrics().scrape().lines().filter(l -> l.startsWith(name + "{") && l.contains(label))
                .findFirst().orElse(name + " with " + label + " missing");
    }
}
