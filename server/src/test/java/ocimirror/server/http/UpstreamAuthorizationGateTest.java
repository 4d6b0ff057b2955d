package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.flow.FlowControlHandler;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import ocimirror.config.ClientAuthorization;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.pullthrough.ScriptedUpstream;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry handler in front of an upstream with {@code authorization: upstream}, without the
 * mirror's own client authentication: what each verdict answers, and that a refused client gets
 * nothing from the cache nor makes the mirror fetch.
 */
class UpstreamAuthorizationGateTest {
    private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
            + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
            + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ScriptedUpstream upstream = new ScriptedUpstream("corp");
    /** The upstream's answer to a check, by user name; absent: it cannot be reached. */
    final Map<String, Integer> answers = Map.of("alice", 200, "bob", 401, "carol", 403);
    final List<String> probes = new ArrayList<>();
    Storage storage;
    PullThroughService pullThrough;
    EmbeddedChannel ch;

    @BeforeEach
    void open() throws IOException {
        storage = Storage.open(dir, clock);
        UpstreamConfig corp = UpstreamConfig.builder("corp", "http://corp.test").plainHttp(true).aliases("corp.test")
                .authorization(ClientAuthorization.upstream(Duration.ofSeconds(60))).build();
        UpstreamConfig open = UpstreamConfig.builder("open", "http://open.test").plainHttp(true).aliases("open.test")
                .build();
        pullThrough = new PullThroughService(storage.blobs(), storage.metadata(),
                UpstreamClients.of(Map.of("corp", upstream, "open", new ScriptedUpstream("open"))), Runnable::run, clock,
                new PullThroughService.Settings(false, Duration.ofSeconds(30), 4));
        UpstreamAuthorization authz = new UpstreamAuthorization(Map.of("corp", (repo, ref, client) -> {
            probes.add(client.username() + " " + repo + " " + ref);
            Integer status = answers.get(client.username());
            return status == null ? CompletableFuture.failedFuture(new UpstreamException(
                    UpstreamException.Kind.UNREACHABLE, "cannot connect to http://corp.test")) 
                    : CompletableFuture.completedFuture(status);
        }), clock, 100, "mirror");
        ch = new EmbeddedChannel(new FlowControlHandler(), new RegistryHandler(new RegistryService(storage.blobs(),
                storage.metadata(), clock, Harness.settings(true)), new UpstreamRouter(List.of(corp, open),
                List.of("local")), pullThrough, Runnable::run, new OciRouteParser(), new ErrorResponses(), null, authz));
        upstream.manifest("team/app", "v1", MediaTypes.OCI_MANIFEST, MANIFEST);
    }

    @AfterEach
    void close() {
        try {
            assertFalse(ch.finishAndReleaseAll());
        } finally {
            pullThrough.close();
            storage.close();
        }
    }

    @Test
    void theUpstreamsVerdictDecidesCachedOrNot() {
        String path = "/v2/corp.test/team/app/manifests/v1";
        FullHttpResponse anonymous = send(path, null);
        assertEquals(401, anonymous.status().code());
        assertEquals("Basic realm=\"mirror\"", anonymous.headers().get("WWW-Authenticate"));
        anonymous.release();
        expect(401, send(path, "bob"));
        assertEquals(0, upstream.manifestGets.get(), "nothing fetched for a refused client");

        FullHttpResponse alice = send(path, "alice");
        assertEquals(200, alice.status().code());
        assertArrayEquals(MANIFEST, ByteBufUtil.getBytes(alice.content()));
        alice.release();
        assertEquals(1, upstream.manifestGets.get());

        FullHttpResponse bob = send(path, "bob"); // cached now, still refused
        assertEquals(401, bob.status().code());
        assertEquals("Basic realm=\"mirror\"", bob.headers().get("WWW-Authenticate"));
        assertTrue(bob.content().toString(StandardCharsets.UTF_8).contains("UNAUTHORIZED"));
        bob.release();
        FullHttpResponse carol = send(path, "carol");
        assertEquals(403, carol.status().code());
        assertNull(carol.headers().get("WWW-Authenticate"));
        assertTrue(carol.content().toString(StandardCharsets.UTF_8).contains("DENIED"));
        carol.release();
        expect(503, send("/v2/corp.test/team/app/tags/list", "dave"));
        expect(401, send("/v2/corp.test/team/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c06"
                + "0f61caaff8a", "bob"));
        assertEquals(List.of("alice team/app v1", "carol team/app v1", "dave team/app latest"), probes.subList(1, 4));
        assertEquals(List.of("bob team/app v1"), probes.subList(0, 1), "bob's answer remembered after the first");
    }

    @Test
    void theBaseChallengesClientsWithoutCredentialsOnly() {
        expect(401, send("/v2/", null));
        expect(200, send("/v2/", "anyone"));
        assertTrue(probes.isEmpty(), "the base asks no upstream");
    }

    private static void expect(int status, FullHttpResponse r) {
        try {
            assertEquals(status, r.status().code(), r.content().toString(StandardCharsets.UTF_8));
        } finally {
            r.release();
        }
    }

    private FullHttpResponse send(String uri, String user) {
        HttpRequest request = Harness.request(HttpMethod.GET, uri);
        request.headers().set("Accept", MediaTypes.OCI_MANIFEST);
        if (user != null) {
            request.headers().set("Authorization", "Basic " + Base64.getEncoder().encodeToString(
                    (user + ":" + user + "-pw").getBytes(StandardCharsets.UTF_8)));
        }
        ch.writeInbound(request, new DefaultLastHttpContent());
        for (int i = 0; i < 100; i++) {
            ch.runPendingTasks();
        }
        FullHttpResponse r = ch.readOutbound();
        assertNull(ch.readOutbound(), "one response");
        return r;
    }
}
