package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executor;
import ocimirror.config.CacheConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.cache.CacheMaintenance;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.server.metrics.Observability;
import ocimirror.server.metrics.Readiness;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin listener's handler on an embedded channel: the pins API's statuses and bodies. */
class AdminHandlerTest {
    private static final JsonMapper JSON = new JsonMapper();
    private static final String CONFIG_PIN = "docker.io/library/busybox:1.36";
    // Storage work on the test's thread: every completion is then queued on the embedded loop.
    private static final Executor DIRECT = Runnable::run;

    @TempDir
    Path dir;
    Storage storage;
    MirrorMetrics metrics;
    CacheMaintenance cache;
    EmbeddedChannel ch;

    @BeforeEach
    void start() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        UpstreamConfig hub = UpstreamConfig.builder("docker.io", "https://registry-1.docker.io")
                .aliases("docker.io").isDefault(true).build();
        MirrorConfig config = MirrorConfig.defaults().withDataDir(dir).withRouting(List.of(hub), List.of("local"))
                .withCache(new CacheConfig(CacheConfig.UNBOUNDED, 0.9, 0.8, List.of(CONFIG_PIN)));
        storage = Storage.open(dir, clock);
        RegistryService service = new RegistryService(storage.blobs(), storage.metadata(), clock,
                new RegistryService.Settings(1 << 20, 1 << 20, true, Duration.ofHours(1)));
        cache = CacheMaintenance.start(config, storage, DIRECT, clock,
                new UpstreamRouter(config.upstreams(), config.hosted()), null, service);
        metrics = new MirrorMetrics();
        Observability obs = new Observability(metrics, new Readiness(storage.metadata(), dir, DIRECT, clock), true);
        handler = () -> new AdminHandler(new OpsEndpoints(obs), new PinEndpoints(cache), OciRouteParser.admin(),
                new ErrorResponses());
        ch = client(InetAddress.getLoopbackAddress());
    }

    java.util.function.Supplier<AdminHandler> handler;

    /** A channel whose peer is {@code address} (an EmbeddedChannel's own peer is no IP address). */
    private EmbeddedChannel client(InetAddress address) {
        return new EmbeddedChannel(handler.get()) {
            @Override
            protected SocketAddress remoteAddress0() {
                return new InetSocketAddress(address, 40000);
            }
        };
    }

    @AfterEach
    void stop() {
        cache.close();
        metrics.close();
        storage.close();
    }

    @Test
    void pinsAreAddedListedAndRemovedWithTheirStatuses() throws Exception {
        Reply created = send(HttpMethod.PUT, "/admin/pins/alpine:3.20");
        assertEquals(201, created.status());
        assertEquals(JSON.readTree("{\"image\":\"alpine:3.20\",\"source\":\"store\"}"), created.json());
        assertEquals("no-store", created.cacheControl());
        assertEquals(200, send(HttpMethod.PUT, "/admin/pins/alpine:3.20").status());

        Reply list = send(HttpMethod.GET, "/admin/pins");
        assertEquals(200, list.status());
        assertEquals(JSON.readTree("{\"pins\":[{\"image\":\"" + CONFIG_PIN + "\",\"source\":\"config\"},"
                + "{\"image\":\"alpine:3.20\",\"source\":\"store\"}]}"), list.json());
        assertEquals(200, send(HttpMethod.GET, "/admin/pins/" + CONFIG_PIN).status());

        Reply removed = send(HttpMethod.DELETE, "/admin/pins/alpine:3.20");
        assertEquals(204, removed.status());
        assertNull(removed.contentLength(), "no Content-Length on a 204");
        assertEquals(404, send(HttpMethod.DELETE, "/admin/pins/alpine:3.20").status(), "not pinned any more");
        assertEquals(404, send(HttpMethod.GET, "/admin/pins/alpine:3.20").status());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void refusalsAreOciErrorsWithTheirStatus() throws Exception {
        Reply config = send(HttpMethod.DELETE, "/admin/pins/" + CONFIG_PIN);
        assertEquals(403, config.status());
        assertEquals("DENIED", config.code());

        Reply unrouted = send(HttpMethod.PUT, "/admin/pins/quay.io/coreos/etcd:v3");
        assertEquals(400, unrouted.status());
        assertEquals("NAME_INVALID", unrouted.code());
        assertEquals(400, send(HttpMethod.PUT, "/admin/pins/Not!An/Image").status());
        assertEquals(400, send(HttpMethod.PUT, "/admin/pins/a%2Fb").status());

        Reply post = send(HttpMethod.POST, "/admin/pins");
        assertEquals(405, post.status());
        assertEquals("METHOD_NOT_ALLOWED", post.code());
        assertEquals(405, send(HttpMethod.PUT, "/admin/pins").status());
        assertEquals(405, send(HttpMethod.POST, "/admin/pins/alpine:3.20").status());

        assertEquals(404, send(HttpMethod.GET, "/v2/").status(), "no registry here");
        assertEquals(List.of(CONFIG_PIN), cache.pins().stream().map(p -> p.image()).toList());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void onlyAClientOnThisHostChangesPinsAnyClientReadsThem() throws Exception {
        ch = client(InetAddress.getByAddress(new byte[] {10, 1, 2, 3}));
        Reply add = send(HttpMethod.PUT, "/admin/pins/alpine:3.20");
        assertEquals(403, add.status());
        assertEquals("DENIED", add.code());
        assertTrue(add.body().contains("from this host"), add.body());
        assertEquals(403, send(HttpMethod.DELETE, "/admin/pins/" + CONFIG_PIN).status());
        assertEquals(200, send(HttpMethod.GET, "/admin/pins").status());
        assertEquals(200, send(HttpMethod.GET, "/metrics").status());
        assertEquals(List.of(CONFIG_PIN), cache.pins().stream().map(p -> p.image()).toList(), "nothing changed");
        assertFalse(ch.finishAndReleaseAll());

        ch = client(InetAddress.getByName("::1"));
        assertEquals(201, send(HttpMethod.PUT, "/admin/pins/alpine:3.20").status(), "IPv6 loopback is this host");
        assertFalse(ch.finishAndReleaseAll());
    }

    private record Reply(int status, String body, String cacheControl, String contentLength) {
        JsonNode json() throws Exception {
            return JSON.readTree(body);
        }

        String code() throws Exception {
            return json().path("errors").path(0).path("code").asText();
        }
    }

    private Reply send(HttpMethod method, String uri) {
        ch.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri));
        ch.runPendingTasks();
        FullHttpResponse r = ch.readOutbound();
        try {
            return new Reply(r.status().code(), r.content().toString(StandardCharsets.UTF_8),
                    r.headers().get(HttpHeaderNames.CACHE_CONTROL), r.headers().get(HttpHeaderNames.CONTENT_LENGTH));
        } finally {
            ReferenceCountUtil.release(r);
        }
    }
}
