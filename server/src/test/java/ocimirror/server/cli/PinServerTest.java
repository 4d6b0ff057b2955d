package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import ocimirror.config.CacheConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.ObservabilityConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.MirrorServer;
import ocimirror.storage.oci.Digest;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.Programs;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pins on a running server: through the admin listener's {@code /admin/pins} and
 * {@code ocimirror pin --server}, with docker-registry as the upstream. A pin added at runtime is
 * fetched without any client asking; the main listener knows nothing of the admin API.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class PinServerTest {
    private static final String APP = "up.test/team/app:1";
    private static final String CONFIG_PIN = "up.test/team/base:1";
    private static final Duration FETCH_DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path tmp;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final JsonMapper json = new JsonMapper();
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    @Test
    void pinsAddedAtRuntimeAreFetchedListedAndRemovedThroughTheAdminListenerOnly() throws Exception {
        Programs.require("docker-registry");
        Programs.require("skopeo");
        TinyImage image = TinyImage.write(tmp.resolve("image"), "1", 50_000, 11);
        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"))) {
            upstream.push(image, "team/app:1", null, null);
            Path data = tmp.resolve("mirror");
            UpstreamConfig up = UpstreamConfig.builder("up", upstream.url()).plainHttp(true).aliases("up.test").build();
            MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), data, null, null,
                    List.of(up), List.of("local"), new MirrorConfig.PullThrough(false, null), TlsConfig.off(), null,
                    new CacheConfig(CacheConfig.UNBOUNDED, 0.9, 0.8, List.of(CONFIG_PIN)), null)
                    .withObservability(new ObservabilityConfig(new ObservabilityConfig.Metrics(true,
                            new MirrorConfig.Listen("127.0.0.1", 0), null), null));
            try (MirrorServer mirror = MirrorServer.start(config)) {
                String main = "http://127.0.0.1:" + mirror.localAddress().getPort();
                String admin = "http://127.0.0.1:" + mirror.adminAddress().getPort();

                assertEquals(404, send("GET", main + "/admin/pins").statusCode(), "the main listener serves no admin API");
                assertEquals(404, send("PUT", main + "/admin/pins/" + APP).statusCode());
                assertTrue(mirror.cache().pins().stream().noneMatch(p -> p.image().equals(APP)));

                HttpResponse<String> put = send("PUT", admin + "/admin/pins/" + APP);
                assertEquals(201, put.statusCode(), put.body());
                assertEquals("store", json.readTree(put.body()).path("source").asText());
                // Fetched in the background, though no client asked for it.
                for (Digest d : List.of(image.manifestDigest(), image.configDigest(), image.layerDigest())) {
                    awaitFile(blobFile(data, d));
                }
                assertEquals(200, send("PUT", admin + "/admin/pins/" + APP).statusCode(), "pinned already");

                JsonNode listed = json.readTree(send("GET", admin + "/admin/pins").body());
                assertEquals(json.readTree("{\"pins\":[{\"image\":\"" + CONFIG_PIN + "\",\"source\":\"config\"},"
                        + "{\"image\":\"" + APP + "\",\"source\":\"store\"}]}"), listed);
                assertEquals(0, run("pin", "ls", "--server", admin), err.toString());
                assertEquals(List.of(CONFIG_PIN + "\tconfig", APP + "\tdata"), out.toString().lines().toList());

                HttpResponse<String> unrouted = send("PUT", admin + "/admin/pins/quay.io/coreos/etcd:v3");
                assertEquals(400, unrouted.statusCode());
                assertEquals("NAME_INVALID", json.readTree(unrouted.body()).path("errors").path(0).path("code").asText());
                assertEquals(2, run("pin", "add", "--server", admin, "quay.io/coreos/etcd:v3"));
                assertTrue(err.toString().contains("names no upstream"), err.toString());

                HttpResponse<String> configured = send("DELETE", admin + "/admin/pins/" + CONFIG_PIN);
                assertEquals(403, configured.statusCode());
                assertTrue(configured.body().contains("cache.pins"), configured.body());
                assertEquals(1, run("pin", "rm", "--server", admin, CONFIG_PIN));
                assertTrue(err.toString().contains("it is in the config file's cache.pins"), err.toString());

                assertEquals(0, run("pin", "rm", "--server", admin, APP), err.toString());
                assertEquals("unpinned " + APP, out.toString().strip());
                assertEquals(404, send("DELETE", admin + "/admin/pins/" + APP).statusCode());
                assertEquals(0, run("pin", "add", "--server", admin, APP), err.toString());
                assertEquals("pinned " + APP, out.toString().strip());

                // Without --server, the locked data directory says where to go instead.
                assertEquals(1, run("pin", "ls", "--data", data.toString()));
                assertTrue(err.toString().contains("--server") && err.toString().contains("metrics.adminListen"),
                        err.toString());
                // The main listener is no admin listener, and the command says so.
                assertEquals(1, run("pin", "ls", "--server", main));
                assertTrue(err.toString().contains("the admin listener"), err.toString());
            }
        }
    }

    private HttpResponse<String> send(String method, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    private static Path blobFile(Path data, Digest digest) {
        String hex = digest.toString().substring("sha256:".length());
        return data.resolve("blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    private static void awaitFile(Path file) throws InterruptedException {
        long deadline = System.nanoTime() + FETCH_DEADLINE.toNanos();
        while (!Files.exists(file) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(Files.exists(file), file + " not cached within " + FETCH_DEADLINE);
    }
}
