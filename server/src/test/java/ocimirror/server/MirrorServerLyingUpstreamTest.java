package ocimirror.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.image.ImageName;
import ocimirror.server.prefetch.MirrorPuller;
import ocimirror.server.progress.Progress;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.PortalNginx;
import ocimirror.testing.PortalNginx.Mode;
import ocimirror.testing.PromText;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wired mirror in front of a real upstream that lies like a captive portal does (nginx
 * answering manifest requests with an HTML sign-in page): the client gets 503 naming the
 * upstream, nothing is stored, the refusal is counted, and a tag cached before is served stale.
 * Each test has its own mirror and data directory; nginx is shared, each test its own repository.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MirrorServerLyingUpstreamTest {
    private static final String ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);
    private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
            + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
            + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);
    private static final Digest PAGE = Digest.sha256(PortalNginx.PAGE);

    PortalNginx portal;
    Path tmp;
    Path data;
    MirrorServer mirror;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void startPortal(@TempDir Path dir) throws Exception {
        tmp = dir;
        portal = PortalNginx.start(dir.resolve("nginx"));
    }

    @AfterAll
    void stopPortal() {
        if (portal != null) {
            portal.close();
        }
    }

    @AfterEach
    void stopMirror() throws IOException {
        if (mirror != null) {
            mirror.close();
            mirror = null;
        }
        portal.mode(Mode.REGISTRY);
    }

    /** A mirror with the portal as upstream "portal" (alias portal.test); tags revalidated on every request. */
    private void startMirror(String name) throws Exception {
        data = tmp.resolve(name);
        UpstreamConfig up = UpstreamConfig.builder("portal", portal.url()).plainHttp(true).aliases("portal.test")
                .tagTtl(Duration.ZERO).maxRetries(0).build();
        mirror = MirrorServer.start(new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), data, null, null,
                List.of(up), List.of("local"), new MirrorConfig.PullThrough(false, null), TlsConfig.off(), null),
                Clock.systemUTC());
    }

    private HttpResponse<byte[]> get(String repo, String ref) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + mirror.localAddress().getPort() + "/v2/portal.test/" + repo
                + "/manifests/" + ref);
        return http.send(HttpRequest.newBuilder(uri).header("Accept", ACCEPT).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    /** The 503's error detail, after checking it is the OCI error body with code UNAVAILABLE. */
    private static String unavailable(HttpResponse<byte[]> r) throws IOException {
        assertEquals(503, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode error = new JsonMapper().readTree(r.body()).path("errors").path(0);
        assertEquals("UNAVAILABLE", error.path("code").asText());
        return error.path("detail").asText();
    }

    private double invalidCounted() {
        return PromText.parse(mirror.metrics().scrape()).value("ocimirror_upstream_manifests_invalid_total",
                "upstream", "portal");
    }

    @Test
    void anHtmlPageIsRefusedEveryTimeAndNeverStored() throws Exception {
        startMirror("html");
        portal.mode(Mode.HTML);
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(portal.url() + "/v2/")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode(), "the portal looks like a registry at /v2/");

        assertEquals("upstream 'portal' answered the manifest request for team/html:latest with text/html,"
                + " not a manifest", unavailable(get("team/html", "latest")));
        assertEquals(1, portal.requests("GET", "/v2/team/html/manifests/latest", 1));
        // Nothing was kept of it: the second request goes upstream again, and is refused again.
        unavailable(get("team/html", "latest"));
        assertEquals(2, portal.requests("GET", "/v2/team/html/manifests/latest", 2));
        assertEquals(2, invalidCounted());
        // ocimirror prefetch (and the start-up prefetch) pull through the mirror: they say why too.
        MirrorPuller.Result prefetch = new MirrorPuller(http, URI.create("http://127.0.0.1:"
                + mirror.localAddress().getPort()), null, 1).pull(List.of(ImageName.parse(
                        "portal.test/team/html:latest")), null, Progress.none());
        assertEquals(1, prefetch.failed().size());
        assertTrue(prefetch.failed().get(0).reason().endsWith("503 UNAVAILABLE: service unavailable: upstream"
                + " 'portal' answered the manifest request for team/html:latest with text/html, not a manifest"),
                prefetch.failed().get(0).reason());
        assertEquals(3, invalidCounted());

        mirror.close();
        mirror = null;
        assertStoreEmpty();
    }

    @Test
    void htmlLabelledAsAManifestIsRefusedByTagAndByDigestUntilTheUpstreamIsFixed() throws Exception {
        startMirror("labelled");
        portal.manifest("team/labelled", "latest", MANIFEST);
        portal.mode(Mode.HTML_AS_MANIFEST);

        assertEquals("upstream 'portal' answered the manifest request for team/labelled:latest with a body labelled "
                + MediaTypes.OCI_MANIFEST + " that is not JSON", unavailable(get("team/labelled", "latest")));
        // By the page's own digest the digest check passes: still refused.
        assertTrue(unavailable(get("team/labelled", PAGE.toString())).startsWith("upstream 'portal' answered the"
                + " manifest request for team/labelled@" + PAGE + " with a body labelled"));
        assertEquals(2, invalidCounted());

        portal.mode(Mode.REGISTRY);
        HttpResponse<byte[]> fixed = get("team/labelled", "latest");
        assertEquals(200, fixed.statusCode());
        assertArrayEquals(MANIFEST, fixed.body());
        assertEquals(MediaTypes.OCI_MANIFEST, fixed.headers().firstValue("Content-Type").orElseThrow());
        assertEquals(2, portal.requests("GET", "/v2/team/labelled/manifests/latest", 2));
        assertEquals(2, invalidCounted());

        mirror.close();
        mirror = null;
        try (Storage storage = Storage.open(data, Clock.systemUTC())) {
            RepoName repo = RepoName.of("portal/team/labelled");
            assertEquals(Digest.sha256(MANIFEST), storage.metadata().getTag(repo, "latest").orElseThrow().digest());
            assertTrue(storage.metadata().getManifest(repo, PAGE).isEmpty());
            assertTrue(storage.metadata().getBlob(PAGE).isEmpty());
            assertTrue(storage.blobs().stat(PAGE).isEmpty());
        }
    }

    @Test
    void aCachedTagIsServedStaleWhileTheUpstreamAnswersHtml() throws Exception {
        startMirror("stale");
        portal.manifest("team/stale", "1", MANIFEST);
        assertEquals(200, get("team/stale", "1").statusCode());

        portal.mode(Mode.HTML);
        HttpResponse<byte[]> stale = get("team/stale", "1");
        assertEquals(200, stale.statusCode());
        assertArrayEquals(MANIFEST, stale.body());
        assertEquals(MediaTypes.OCI_MANIFEST, stale.headers().firstValue("Content-Type").orElseThrow());
        // The upstream was asked (HEAD, then GET as the HEAD had no digest) and answered HTML.
        assertEquals(2, portal.requests("GET", "/v2/team/stale/manifests/1", 2));
        PromText m = PromText.parse(mirror.metrics().scrape());
        assertEquals(1, m.value("ocimirror_upstream_manifests_invalid_total", "upstream", "portal"));
        assertEquals(1, m.value("ocimirror_cache_stale_served_total"));
        // Recorded once the response is written, which may be just after the client has it.
        long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (PromText.parse(mirror.metrics().scrape()).sum("ocimirror_cache_requests_total", "kind", "manifest",
                "result", "stale") == 0 && System.nanoTime() < end) {
            Thread.sleep(20);
        }
        assertEquals(1, PromText.parse(mirror.metrics().scrape()).value("ocimirror_cache_requests_total", "kind",
                "manifest", "result", "stale"));
    }

    /** No repository, tag or blob at all: what the portal sent left no trace. */
    private void assertStoreEmpty() throws IOException {
        try (Storage storage = Storage.open(data, Clock.systemUTC())) {
            assertTrue(storage.metadata().listRepositories(null, 100).items().isEmpty());
            assertTrue(storage.metadata().getBlob(PAGE).isEmpty());
        }
        Path blobs = data.resolve("blobs");
        if (Files.exists(blobs)) {
            try (Stream<Path> files = Files.walk(blobs)) {
                assertEquals(List.of(), files.filter(Files::isRegularFile).toList());
            }
        }
    }
}
