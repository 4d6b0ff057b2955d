package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.server.MirrorServer;
import ocimirror.server.prefetch.StartupPrefetch;
import ocimirror.testing.Bundles;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.PromText;
import ocimirror.testing.RegistryClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code upstreams[].allow} and {@code deny} with docker-registry as the upstream: a refused
 * repository is {@code 403 DENIED} naming the rule on every route, nothing of it is fetched, a
 * copy cached before the rule is not served, and pins, start-up prefetch and
 * {@code import --upstream} refuse it too; hosted namespaces are never affected.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpstreamRulesE2ETest {
    private static final String ACCEPT = "application/vnd.oci.image.index.v1+json, "
            + "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    private static final String RULES = "    allow: [team/**]\n    deny: [team/secret*]\n";

    Path tmp;
    DockerRegistry upstream;
    MirrorServer mirror;
    RegistryClient client;
    OciLayoutBuilder.Image app;
    OciLayoutBuilder.Image secret;
    OciLayoutBuilder.Image other;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        OciLayoutBuilder b = new OciLayoutBuilder(tmp.resolve("layout"), 77);
        app = b.image("linux", "amd64", List.of(b.randomLayer("app.bin", 20_000)));
        secret = b.image("linux", "amd64", List.of(b.randomLayer("secret.bin", 30_000)));
        other = b.image("linux", "amd64", List.of(b.randomLayer("other.bin", 10_000)));
        b.tag("2", secret.manifest());
        b.finish();
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        RegistryClient push = new RegistryClient(upstream.hostPort());
        push.pushImage("team/app", "1", app);
        push.pushImage("team/secret", "1", secret);
        push.pushImage("other/x", "1", other);

        // Before the rules: team/secret is pulled through and cached.
        try (MirrorServer open = MirrorServer.start(ConfigLoader.load(config("data", ""))); ) {
            RegistryClient c = new RegistryClient(URI.create("http://127.0.0.1:" + open.localAddress().getPort()));
            assertEquals(200, c.send(c.request("/v2/team/secret/manifests/1?ns=up.test").header("Accept", ACCEPT)
                    .build()).statusCode());
            assertEquals(200, c.get("/v2/team/secret/blobs/" + secret.layers().get(0).blob().digest()
                    + "?ns=up.test").statusCode());
        }
        mirror = MirrorServer.start(ConfigLoader.load(config("data",
                "pullThrough: {prefetchLayers: false, prefetch: [up.test/other/x:1, up.test/team/app:1]}\n")));
        client = new RegistryClient(URI.create("http://127.0.0.1:" + mirror.localAddress().getPort()));
    }

    /** A configuration file: one upstream with {@link #RULES} when {@code extra} is not empty. */
    private Path config(String data, String extra) throws Exception {
        return Files.writeString(tmp.resolve(data + ".yaml"), "listen: 127.0.0.1:0\n"
                + "data: " + tmp.resolve(data) + "\n"
                + "tls: {mode: off}\n"
                + "upstreams:\n"
                + "  - name: up\n"
                + "    url: " + upstream.url() + "\n"
                + "    plainHttp: true\n"
                + "    aliases: [up.test]\n"
                + (extra.isEmpty() ? "" : RULES)
                + "hosted: [local]\n"
                + extra);
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
    void anAllowedRepositoryIsProxied() {
        HttpResponse<byte[]> r = client.send(client.request("/v2/up.test/team/app/manifests/1").header("Accept", ACCEPT)
                .build());
        assertEquals(200, r.statusCode(), RegistryClient.describe(r));
        assertArrayEquals(app.manifest().bytes(), r.body());
    }

    @Test
    void everyRouteOfADeniedRepositoryIsRefusedEvenWhatIsCached() throws Exception {
        long asked = upstreamRequests("/v2/team/secret/");
        String layer = secret.layers().get(0).blob().digest();
        for (String path : List.of(
                "/v2/team/secret/manifests/1?ns=up.test",                 // cached before the rule
                "/v2/up.test/team/secret/manifests/1",                    // the same, by path prefix
                "/v2/team/secret/manifests/" + secret.manifest().digest() + "?ns=up.test",
                "/v2/team/secret/blobs/" + layer + "?ns=up.test",          // cached before the rule
                "/v2/team/secret/blobs/" + secret.config().digest() + "?ns=up.test",
                "/v2/team/secret/tags/list?ns=up.test",
                "/v2/team/secret/referrers/" + secret.manifest().digest() + "?ns=up.test",
                "/v2/team/secret-2/manifests/1?ns=up.test")) {
            HttpResponse<byte[]> r = client.send(client.request(path).header("Accept", ACCEPT).build());
            assertEquals(403, r.statusCode(), path + ": " + RegistryClient.describe(r));
            String body = new String(r.body(), StandardCharsets.UTF_8);
            assertTrue(body.contains("\"code\":\"DENIED\"") && body.contains("of upstream 'up' is not proxied by this"
                    + " mirror: it matches deny rule 'team/secret*'"), path + ": " + body);
        }
        HttpResponse<byte[]> head = client.send(client.request("/v2/team/secret/blobs/" + layer + "?ns=up.test")
                .method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(403, head.statusCode());
        HttpResponse<byte[]> outside = client.send(client.request("/v2/other/x/manifests/1?ns=up.test")
                .header("Accept", ACCEPT).build());
        assertEquals(403, outside.statusCode());
        assertTrue(new String(outside.body(), StandardCharsets.UTF_8)
                .contains("it matches no allow rule (allow: team/**)"), RegistryClient.describe(outside));
        assertEquals(asked, upstreamRequests("/v2/team/secret/"), "nothing asked of the upstream");
        assertEquals(0, upstreamRequests("/v2/other/x/"), "nothing asked of the upstream, ever");
    }

    @Test
    void theCatalogHidesWhatIsCachedOfADeniedRepository() {
        HttpResponse<byte[]> r = client.get("/v2/_catalog");
        assertEquals(200, r.statusCode(), RegistryClient.describe(r));
        String body = new String(r.body(), StandardCharsets.UTF_8);
        assertFalse(body.contains("secret"), "cached before the rule, refused now: " + body);
    }

    @Test
    void eachRefusalIsCountedPerUpstream() {
        double before = denied();
        client.get("/v2/team/secret/tags/list?ns=up.test");
        client.get("/v2/up.test/other/x/manifests/1");
        assertEquals(before + 2, denied());
        client.send(client.request("/v2/up.test/team/app/manifests/1").header("Accept", ACCEPT).build());
        assertEquals(before + 2, denied(), "an allowed repository is not counted");
    }

    @Test
    void aHostedNamespaceIsNeverSubjectToTheRules() throws Exception {
        // local/team/secret matches deny rule team/secret* by name, but it is the mirror's own.
        new RegistryClient(URI.create("http://127.0.0.1:" + mirror.localAddress().getPort()))
                .pushImage("local/team/secret", "1", secret);
        HttpResponse<byte[]> r = client.send(client.request("/v2/local/team/secret/manifests/1")
                .header("Accept", ACCEPT).build());
        assertEquals(200, r.statusCode(), RegistryClient.describe(r));
    }

    @Test
    void pinsAndStartupPrefetchRefuseADeniedRepository() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> mirror.cache().addPin("up.test/team/secret:1"));
        assertTrue(e.getMessage().contains("DENIED") && e.getMessage().contains("deny rule 'team/secret*'"),
                e.getMessage());
        StartupPrefetch.Outcome o = mirror.startupPrefetch().done().get(60, TimeUnit.SECONDS);
        assertEquals(2, o.images());
        assertEquals(1, o.failed(), "other/x refused, team/app warmed");
        assertEquals(0, upstreamRequests("/v2/other/x/"));
        assertNotEquals(0, upstream.blobGets("team/app", app.layers().get(0).blob().digest()));
    }

    @Test
    void importIntoADeniedRepositoryStoresNothing() throws Exception {
        Path cfg = config("import-data", "\n");
        Bundles.Cli r = Bundles.ocimirror("import", tmp.resolve("layout").toString(), "--upstream", "up.test",
                "--name", "team/secret-copy:2", "--config", cfg.toString());
        assertNotEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("deny rule 'team/secret*'"), r.toString());
        Path blobs = tmp.resolve("import-data/blobs");
        try (Stream<Path> files = Files.exists(blobs) ? Files.walk(blobs) : Stream.empty()) {
            assertEquals(List.of(), files.filter(Files::isRegularFile).toList(), "nothing stored");
        }
        Bundles.Cli allowed = Bundles.ocimirror("import", tmp.resolve("layout").toString(), "--upstream", "up.test",
                "--name", "team/copy:2", "--config", cfg.toString());
        assertEquals(0, allowed.exit(), allowed.toString());
    }

    private double denied() {
        return PromText.parse(mirror.metrics().scrape()).value("ocimirror_upstream_denied_total", "upstream", "up");
    }

    private long upstreamRequests(String prefix) {
        return upstream.log().stream().filter(l -> l.contains("\"GET " + prefix) || l.contains("\"HEAD " + prefix))
                .count();
    }
}
