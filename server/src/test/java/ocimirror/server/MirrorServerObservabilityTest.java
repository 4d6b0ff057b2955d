package ocimirror.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import ocimirror.config.AuthConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.ObservabilityConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.access.AccessLog;
import ocimirror.server.access.LogSetup;
import ocimirror.testing.Commands;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.GatedRelay;
import ocimirror.testing.ParallelGets;
import ocimirror.testing.Programs;
import ocimirror.testing.PromText;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The wired server's metrics, probes and access log, over plain HTTP with docker-registry as the
 * upstream (behind a relay that can hold its answers, so that three clients provably wait on one
 * blob download): exact values after a known sequence of requests, readiness going 503 and back,
 * the admin listener, the endpoints with client authentication on, and the Grafana dashboard's
 * queries checked against a real scrape.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MirrorServerObservabilityTest {
    private static final String ACCEPT = "application/vnd.oci.image.index.v1+json, "
            + "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json";
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    Path tmp;
    DockerRegistry upstream;
    GatedRelay relay;
    TinyImage image;
    MirrorServer mirror;
    String fieldsInMdc;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        Programs.require("skopeo");
        // The access fields in the MDC, as with log.format: json, whatever set-up of logging an
        // earlier test class left in this JVM (the test configurator's text format turns them off).
        LoggerContext logging = (LoggerContext) LoggerFactory.getILoggerFactory();
        fieldsInMdc = logging.getProperty(LogSetup.FIELDS_IN_MDC);
        logging.putProperty(LogSetup.FIELDS_IN_MDC, "true");
        tmp = dir;
        image = TinyImage.write(dir.resolve("layout"), "1", 300_000, 42);
        upstream = DockerRegistry.start(dir.resolve("upstream"));
        upstream.push(image, "team/app:1", null, null);
        relay = new GatedRelay(upstream.port());
    }

    @AfterEach
    void stopMirror() {
        if (mirror != null) {
            mirror.close();
            mirror = null;
        }
        relay.release();
    }

    @AfterAll
    void stop() {
        ((LoggerContext) LoggerFactory.getILoggerFactory()).putProperty(LogSetup.FIELDS_IN_MDC, fieldsInMdc);
        if (relay != null) {
            relay.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private MirrorConfig config(String data, ObservabilityConfig.Metrics metrics) {
        UpstreamConfig up = UpstreamConfig.builder("up", "http://127.0.0.1:" + relay.port()).plainHttp(true)
                .aliases("up.test").build();
        return new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), tmp.resolve(data), null, null, List.of(up),
                List.of("local"), new MirrorConfig.PullThrough(false, null), TlsConfig.off(), null,
                new ObservabilityConfig(metrics, null));
    }

    private String base() {
        return "http://127.0.0.1:" + mirror.localAddress().getPort();
    }

    private HttpResponse<byte[]> get(String url, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private PromText scrape() throws Exception {
        HttpResponse<byte[]> r = get(base() + "/metrics");
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElseThrow());
        return PromText.parse(new String(r.body(), StandardCharsets.UTF_8));
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + DEADLINE + ": " + what);
            }
            Thread.sleep(20);
        }
    }

    private double scraped(String name, String... labels) {
        try {
            return scrape().sum(name, labels);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Requests answered, apart from the scrapes themselves. */
    private double answered() {
        try {
            PromText p = scrape();
            return p.sum("ocimirror_http_requests_total") - p.sum("ocimirror_http_requests_total", "route", "metrics");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A ListAppender that keeps each event's MDC (captured lazily otherwise, after the handler cleared it). */
    private static final class Capture extends ListAppender<ILoggingEvent> {
        @Override
        protected void append(ILoggingEvent e) {
            e.prepareForDeferredProcessing();
            super.append(e);
        }

        synchronized List<ILoggingEvent> infos() {
            return list.stream().filter(e -> e.getLevel() == Level.INFO).toList();
        }
    }

    private static Capture capture() {
        Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
        Capture c = new Capture();
        c.setContext(access.getLoggerContext());
        c.start();
        access.addAppender(c);
        return c;
    }

    private static void release(Capture c) {
        ((Logger) LoggerFactory.getLogger(AccessLog.LOGGER)).detachAppender(c);
        c.stop();
    }

    @Test
    void aKnownSequenceGivesExactMetricsAndOneAccessLineEach() throws Exception {
        Capture log = capture();
        try {
            mirror = MirrorServer.start(config("exact", new ObservabilityConfig.Metrics(true, null,
                    Duration.ofMillis(200))));
            String manifest = base() + "/v2/up.test/team/app/manifests/1";
            String blob = base() + "/v2/up.test/team/app/blobs/" + image.layerDigest();

            // One manifest miss, then two hits.
            List<String> manifestIds = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                HttpResponse<byte[]> r = get(manifest, "Accept", ACCEPT);
                assertEquals(200, r.statusCode());
                assertArrayEquals(image.manifest(), r.body());
                manifestIds.add(r.headers().firstValue("X-Request-Id").orElseThrow());
            }
            // One blob miss with three clients waiting on the same download.
            relay.hold();
            CompletableFuture<List<ParallelGets.Outcome>> clients = CompletableFuture.supplyAsync(() -> {
                try {
                    return ParallelGets.run(URI.create(blob), 3, DEADLINE);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            await("two clients joined the download", () -> scraped("ocimirror_cache_coalesced_total", "kind", "blob") == 2);
            assertEquals(1, scraped("ocimirror_pullthrough_inflight_fetches"));
            relay.release();
            for (ParallelGets.Outcome o : clients.get(30, TimeUnit.SECONDS)) {
                assertEquals(200, o.status(), o.toString());
                assertEquals(image.layerDigest().toString(), o.digest());
            }
            // One 404.
            HttpResponse<byte[]> missing = get(base() + "/v2/up.test/team/app/manifests/nope", "Accept", ACCEPT);
            assertEquals(404, missing.statusCode());

            await("7 requests recorded", () -> answered() == 7);
            await("the cache measured", () -> scraped("ocimirror_cache_blobs") == 2);
            PromText m = scrape();
            assertEquals(3, m.value("ocimirror_http_requests_total", "route", "manifest", "method", "GET", "status", "200"));
            assertEquals(1, m.value("ocimirror_http_requests_total", "route", "manifest", "method", "GET", "status", "404"));
            assertEquals(3, m.value("ocimirror_http_requests_total", "route", "blob", "method", "GET", "status", "200"));
            assertEquals(4, m.value("ocimirror_http_request_duration_seconds_count", "route", "manifest"));
            assertEquals(3, m.value("ocimirror_http_request_duration_seconds_count", "route", "blob"));
            assertEquals(3, m.value("ocimirror_http_request_duration_seconds_bucket", "route", "blob", "le", "+Inf"));
            assertEquals(3.0 * image.manifest().length + missing.body().length,
                    m.value("ocimirror_http_served_bytes_total", "route", "manifest"));
            assertEquals(3.0 * image.layer().length, m.value("ocimirror_http_served_bytes_total", "route", "blob"));

            assertEquals(2, m.value("ocimirror_cache_requests_total", "kind", "manifest", "result", "miss"));
            assertEquals(2, m.value("ocimirror_cache_requests_total", "kind", "manifest", "result", "hit"));
            assertEquals(1, m.value("ocimirror_cache_requests_total", "kind", "blob", "result", "miss"));
            assertEquals(2, m.value("ocimirror_cache_requests_total", "kind", "blob", "result", "coalesced"));
            assertEquals(7, m.sum("ocimirror_cache_requests_total"));
            assertEquals(2, m.value("ocimirror_cache_coalesced_total", "kind", "blob"));
            assertEquals(0, m.value("ocimirror_cache_coalesced_total", "kind", "manifest"));
            assertEquals(0, m.value("ocimirror_cache_stale_served_total"));
            assertEquals(0, m.value("ocimirror_cache_negative_hits_total"));
            assertEquals(1, m.value("ocimirror_pullthrough_blob_fetches_total"));
            assertEquals(0, m.value("ocimirror_pullthrough_inflight_fetches"));

            assertEquals(1, m.value("ocimirror_upstream_requests_total", "upstream", "up", "op", "manifest_get",
                    "outcome", "ok"));
            assertEquals(1, m.value("ocimirror_upstream_requests_total", "upstream", "up", "op", "manifest_get",
                    "outcome", "not_found"));
            assertEquals(1, m.value("ocimirror_upstream_requests_total", "upstream", "up", "op", "blob_get",
                    "outcome", "ok"));
            assertEquals(3, m.sum("ocimirror_upstream_requests_total"), "no HEAD: the tag is fresh");
            assertEquals(2, m.value("ocimirror_upstream_request_duration_seconds_count", "op", "manifest_get"));
            assertEquals(image.manifest().length + image.layer().length,
                    m.value("ocimirror_upstream_received_bytes_total", "upstream", "up"));
            assertTrue(Double.isNaN(m.value("ocimirror_upstream_ratelimit_remaining", "upstream", "up")),
                    "docker-registry reports no rate limit");

            assertEquals(image.manifest().length + image.layer().length, m.value("ocimirror_cache_size_bytes"));
            assertEquals(0, m.value("ocimirror_cache_evictions_total"));
            assertEquals(0, m.sum("ocimirror_tls_handshakes_total"), "plain HTTP");
            assertTrue(m.value("ocimirror_http_connections") >= 1);
            assertTrue(m.sum("jvm_memory_used_bytes", "area", "heap") > 0);
            assertTrue(m.value("process_uptime_seconds") > 0);

            // The access log: one INFO line per request, in the order they were answered.
            List<ILoggingEvent> lines = log.infos();
            assertEquals(7, lines.size(), lines.toString());
            for (ILoggingEvent e : lines) {
                Map<String, String> f = e.getMDCPropertyMap();
                assertEquals(new java.util.HashSet<>(AccessLog.FIELDS), f.keySet(), e.getFormattedMessage());
                assertEquals("GET", f.get("method"));
                assertEquals("up", f.get("upstream"));
                assertTrue(f.get("client").matches("127\\.0\\.0\\.1:\\d+"), f.get("client"));
                assertTrue(Double.parseDouble(f.get("duration_ms")) >= 0);
                assertTrue(e.getFormattedMessage().startsWith("method=GET path=/v2/up.test/team/app/"),
                        e.getFormattedMessage());
                assertFalse(f.containsKey("aborted"));
            }
            List<ILoggingEvent> manifests = lines.stream().filter(e -> "manifest".equals(e.getMDCPropertyMap()
                    .get("route"))).toList();
            assertEquals(List.of("200 miss", "200 hit", "200 hit", "404 miss"), manifests.stream()
                    .map(e -> e.getMDCPropertyMap().get("status") + " " + e.getMDCPropertyMap().get("cache")).toList());
            assertEquals(manifestIds, manifests.subList(0, 3).stream().map(e -> e.getMDCPropertyMap().get("request_id"))
                    .toList(), "the id sent back is the id logged");
            assertEquals(Integer.toString(image.manifest().length), manifests.get(1).getMDCPropertyMap().get("bytes"));
            assertEquals("/v2/up.test/team/app/manifests/nope", manifests.get(3).getMDCPropertyMap().get("path"));
            List<String> blobCache = lines.stream().filter(e -> "blob".equals(e.getMDCPropertyMap().get("route")))
                    .map(e -> e.getMDCPropertyMap().get("cache") + " " + e.getMDCPropertyMap().get("bytes"))
                    .sorted().toList();
            assertEquals(List.of("coalesced " + image.layer().length, "coalesced " + image.layer().length,
                    "miss " + image.layer().length), blobCache);

            // The same lines in the JSON format: one object per line, the fields under "mdc".
            Encoder<ILoggingEvent> json = LogSetup.jsonEncoder((LoggerContext) LoggerFactory.getILoggerFactory());
            JsonMapper mapper = new JsonMapper();
            for (ILoggingEvent e : lines) {
                String text = new String(json.encode(e), StandardCharsets.UTF_8);
                assertTrue(text.endsWith("\n") && text.indexOf('\n') == text.length() - 1, text);
                JsonNode node = mapper.readTree(text);
                assertEquals(AccessLog.LOGGER, node.path("loggerName").asText());
                assertEquals("INFO", node.path("level").asText());
                assertEquals(e.getMDCPropertyMap().get("status"), node.path("mdc").path("status").asText());
                assertEquals(e.getMDCPropertyMap().get("request_id"), node.path("mdc").path("request_id").asText());
                assertEquals(e.getFormattedMessage(), node.path("formattedMessage").asText());
            }
        } finally {
            release(log);
        }
    }

    @Test
    void probesGoUnreadyWhenIngestCannotBeWrittenAndTheAdminListenerServesThemToo() throws Exception {
        mirror = MirrorServer.start(config("probes", new ObservabilityConfig.Metrics(true,
                new MirrorConfig.Listen("127.0.0.1", 0), null)));
        String admin = "http://127.0.0.1:" + mirror.adminAddress().getPort();
        HttpResponse<byte[]> live = get(base() + "/healthz");
        assertEquals(200, live.statusCode());
        assertEquals("ok\n", new String(live.body(), StandardCharsets.UTF_8));
        assertEquals("no-store", live.headers().firstValue("Cache-Control").orElseThrow());
        assertEquals(200, get(base() + "/readyz").statusCode());
        assertEquals(200, get(admin + "/readyz").statusCode());
        assertEquals(200, get(admin + "/healthz").statusCode());
        HttpResponse<byte[]> adminMetrics = get(admin + "/metrics");
        assertEquals(200, adminMetrics.statusCode());
        assertTrue(PromText.parse(new String(adminMetrics.body(), StandardCharsets.UTF_8)).names()
                .contains("ocimirror_http_requests_total"), "the main listener's requests, counted in one registry");
        assertEquals(404, get(admin + "/v2/").statusCode(), "the admin listener is no registry");
        assertEquals(405, http.send(HttpRequest.newBuilder(URI.create(base() + "/metrics"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).statusCode());

        // Where every download and upload is written disappears (as root, permissions would not stop a write).
        Path ingest = tmp.resolve("probes/ingest");
        Files.delete(ingest);
        await("readyz 503", () -> status(base() + "/readyz") == 503);
        HttpResponse<byte[]> unready = get(base() + "/readyz");
        assertTrue(new String(unready.body(), StandardCharsets.UTF_8).startsWith("not ready: cannot write to " + ingest),
                new String(unready.body(), StandardCharsets.UTF_8));
        assertEquals(503, get(admin + "/readyz").statusCode());
        assertEquals(200, get(base() + "/healthz").statusCode(), "alive all the same");
        Files.createDirectory(ingest);
        await("readyz 200 again", () -> status(base() + "/readyz") == 200);
    }

    private int status(String url) {
        try {
            return get(url).statusCode();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void withClientAuthenticationProbesNeverNeedCredentialsAndMetricsOnlyWhenNotPublic() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        Path htpasswd = tmp.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", htpasswd.toString(), "ops", "ops-pw");
        AuthConfig auth = new AuthConfig(htpasswd, "mirror", Map.of(), null);
        String creds = "Basic " + Base64.getEncoder().encodeToString("ops:ops-pw".getBytes(StandardCharsets.UTF_8));

        mirror = MirrorServer.start(config("auth-public", ObservabilityConfig.Metrics.defaults()).withAuth(auth));
        assertEquals(401, get(base() + "/v2/").statusCode());
        assertEquals(200, get(base() + "/healthz").statusCode());
        assertEquals(200, get(base() + "/readyz").statusCode());
        assertEquals(200, get(base() + "/metrics").statusCode());
        assertEquals(401, get(base() + "/metric%73").statusCode(), "a disguised path is authenticated");
        // The refused request is counted under its route all the same.
        await("the 401 counted", () -> scraped("ocimirror_http_requests_total", "route", "base", "status", "401") == 1);
        mirror.close();

        mirror = MirrorServer.start(config("auth-private", new ObservabilityConfig.Metrics(false, null, null))
                .withAuth(auth), Clock.systemUTC());
        assertEquals(401, get(base() + "/metrics").statusCode());
        assertEquals(200, get(base() + "/metrics", "Authorization", creds).statusCode());
        assertEquals(200, get(base() + "/healthz").statusCode());
        assertEquals(200, get(base() + "/readyz").statusCode());
    }

    @Test
    void tlsHandshakesAreCountedBySuccessAndFailure() throws Exception {
        mirror = MirrorServer.start(config("tls", ObservabilityConfig.Metrics.defaults())
                .withTls(TlsConfig.defaults()));
        String url = "https://localhost:" + mirror.localAddress().getPort();
        HttpClient trusting = HttpClient.newBuilder().sslContext(ocimirror.testing.TlsTrust.trusting(
                tmp.resolve("tls/pki/ca.crt"))).connectTimeout(Duration.ofSeconds(5)).build();
        assertEquals(200, trusting.send(HttpRequest.newBuilder(URI.create(url + "/healthz")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        try {
            http.send(HttpRequest.newBuilder(URI.create(url + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            throw new AssertionError("a client without the mirror's CA got through");
        } catch (javax.net.ssl.SSLHandshakeException expected) {
            // it does not trust the generated CA
        }
        // The server hears of the refused handshake when the client's alert arrives: maybe after
        // the client's exception, so the scrape is repeated until it shows.
        java.util.concurrent.atomic.AtomicReference<PromText> last = new java.util.concurrent.atomic.AtomicReference<>();
        await("the failed handshake counted", () -> {
            try {
                last.set(PromText.parse(trusting.send(HttpRequest.newBuilder(URI.create(url + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return last.get().value("ocimirror_tls_handshakes_total", "result", "failure") >= 1;
        });
        PromText m = last.get();
        double success = m.value("ocimirror_tls_handshakes_total", "result", "success");
        assertTrue(success >= 1 && success <= 2, "the probe's, and the scrapes' if they did not reuse it: " + success);
        assertEquals(1, m.value("ocimirror_tls_handshakes_total", "result", "failure"));
    }

    @Test
    void theDashboardQueriesOnlyMetricsARealScrapeHas() throws Exception {
        mirror = MirrorServer.start(config("dashboard", new ObservabilityConfig.Metrics(true, null,
                Duration.ofMillis(200))));
        assertEquals(200, get(base() + "/v2/up.test/team/app/manifests/1", "Accept", ACCEPT).statusCode());
        assertEquals(200, get(base() + "/v2/up.test/team/app/blobs/" + image.layerDigest()).statusCode());
        await("both recorded", () -> answered() == 2);
        java.util.Set<String> names = scrape().names();

        Path docker = Path.of(System.getProperty("user.dir")).resolveSibling("docker");
        JsonNode dashboard = new JsonMapper().readTree(docker.resolve("grafana/ocimirror-dashboard.json").toFile());
        assertEquals("ocimirror", dashboard.path("title").asText());
        List<String> exprs = new ArrayList<>();
        dashboard.findValues("expr").forEach(e -> exprs.add(e.asText()));
        assertTrue(exprs.size() >= 12, exprs.toString());
        java.util.regex.Matcher mm = java.util.regex.Pattern.compile("\\b(?:ocimirror|jvm|process|system)_[a-z0-9_]+")
                .matcher(String.join("\n", exprs));
        java.util.Set<String> queried = new java.util.TreeSet<>();
        while (mm.find()) {
            queried.add(mm.group());
        }
        assertTrue(queried.size() >= 12, queried.toString());
        for (String q : queried) {
            assertTrue(names.contains(q), q + " is queried by the dashboard but not in a scrape: " + names);
        }

        JsonNode prometheus = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper()
                .readTree(docker.resolve("prometheus/prometheus.yml").toFile());
        JsonNode job = prometheus.path("scrape_configs").get(0);
        assertNotNull(job);
        assertEquals("/metrics", job.path("metrics_path").asText());
        assertFalse(job.path("static_configs").get(0).path("targets").isEmpty());
    }
}
