package ocimirror.server.auth;

import static ocimirror.server.auth.HtpasswdAuthenticatorTest.basic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.config.AuthConfig;
import ocimirror.config.AuthConfig.Access;
import ocimirror.server.http.ErrorResponses;
import ocimirror.testing.Commands;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClientAuthHandlerTest {
    @TempDir
    Path dir;
    HtpasswdAuthenticator authenticator;
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    /** Password checks wait here until the test runs them: the event loop's view of an async check. */
    final ArrayDeque<Runnable> checks = new ArrayDeque<>();
    final Executor queued = checks::add;

    @BeforeEach
    void users() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        Path file = dir.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", file.toString(), "alice", "s3cret");
        Commands.check("htpasswd", "-B", "-b", file.toString(), "bob", "hunter2");
        authenticator = new HtpasswdAuthenticator(new AuthConfig(file, "mirror", Map.of("alice", Access.PUSH), null),
                clock);
    }

    private EmbeddedChannel channel(Executor hashing) {
        return new EmbeddedChannel(new ClientAuthHandler(authenticator, hashing, new ErrorResponses()));
    }

    private static HttpRequest request(HttpMethod method, String uri, String authorization) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
        if (authorization != null) {
            r.headers().set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        return r;
    }

    /** Runs the queued password checks, then the event loop tasks they posted. */
    private void runChecks(EmbeddedChannel ch) {
        Runnable r;
        while ((r = checks.poll()) != null) {
            r.run();
        }
        ch.runPendingTasks();
    }

    private static JsonNode error(FullHttpResponse r) throws Exception {
        return new JsonMapper().readTree(ByteBufUtil.getBytes(r.content())).path("errors").get(0);
    }

    @Test
    void noCredentialsGet401WithAChallengeAndTheOciErrorBody() throws Exception {
        EmbeddedChannel ch = channel(queued);
        ch.writeInbound(request(HttpMethod.GET, "/v2/", null), LastHttpContent.EMPTY_LAST_CONTENT);

        FullHttpResponse r = ch.readOutbound();
        assertEquals(401, r.status().code());
        assertEquals("Basic realm=\"mirror\"", r.headers().get(HttpHeaderNames.WWW_AUTHENTICATE));
        assertEquals("registry/2.0", r.headers().get("Docker-Distribution-API-Version"));
        assertTrue(r.headers().get(HttpHeaderNames.CONTENT_TYPE).startsWith("application/json"));
        assertEquals("UNAUTHORIZED", error(r).path("code").asText());
        r.release();
        assertNull(ch.readInbound(), "nothing reaches the registry");
        assertTrue(checks.isEmpty(), "no password to check");
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void openTargetsPassWithoutCredentialsForGetAndHeadOnly() {
        EmbeddedChannel ch = new EmbeddedChannel(new ClientAuthHandler(authenticator, queued, new ErrorResponses(),
                uri -> ocimirror.server.route.OpsPaths.isProbe(uri)));
        HttpRequest probe = request(HttpMethod.GET, "/healthz", null);
        ch.writeInbound(probe, LastHttpContent.EMPTY_LAST_CONTENT);
        assertSame(probe, ch.readInbound());
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        HttpRequest ready = request(HttpMethod.HEAD, "/readyz?verbose", null);
        ch.writeInbound(ready);
        assertSame(ready, ch.readInbound());
        assertNull(ch.readOutbound());

        // Not open: another method, /metrics (not in this predicate), a disguised path.
        for (HttpRequest refused : new HttpRequest[] {request(HttpMethod.POST, "/healthz", null),
                request(HttpMethod.GET, "/metrics", null), request(HttpMethod.GET, "/healthz/", null),
                request(HttpMethod.GET, "/%68ealthz", null)}) {
            ch.writeInbound(refused, LastHttpContent.EMPTY_LAST_CONTENT);
            FullHttpResponse r = ch.readOutbound();
            assertEquals(401, r.status().code(), refused.method() + " " + refused.uri());
            r.release();
            assertNull(ch.readInbound());
        }
        assertTrue(checks.isEmpty());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void headIsAnsweredWithoutABody() {
        EmbeddedChannel ch = channel(queued);
        ch.writeInbound(request(HttpMethod.HEAD, "/v2/library/x/manifests/1", null), LastHttpContent.EMPTY_LAST_CONTENT);
        FullHttpResponse r = ch.readOutbound();
        assertEquals(401, r.status().code());
        assertEquals(0, r.content().readableBytes());
        r.release();
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void anAllowedRequestAndItsBodyPassUntouchedAfterTheCheck() {
        EmbeddedChannel ch = channel(queued);
        HttpRequest put = request(HttpMethod.PATCH, "/v2/app/blobs/uploads/1", basic("alice", "s3cret"));
        HttpContent chunk = new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
        LastHttpContent last = new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[] {4}));
        ch.writeInbound(put, chunk, last);

        assertNull(ch.readInbound(), "held while the password is checked");
        assertFalse(ch.config().isAutoRead(), "reading stops meanwhile");
        assertEquals(1, checks.size());
        runChecks(ch);

        assertSame(put, ch.readInbound());
        assertSame(chunk, ch.readInbound());
        assertSame(last, ch.readInbound());
        assertTrue(ch.config().isAutoRead());
        assertNull(ch.readOutbound());
        chunk.release();
        last.release();

        HttpRequest again = request(HttpMethod.GET, "/v2/app/manifests/1", basic("alice", "s3cret"));
        ch.writeInbound(again);
        assertSame(again, ch.readInbound(), "verified credentials pass at once");
        assertTrue(checks.isEmpty());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aPushByAPullOnlyUserIs403AndItsBodyIsDropped() throws Exception {
        EmbeddedChannel ch = channel(queued);
        ch.writeInbound(request(HttpMethod.PUT, "/v2/app/manifests/1", basic("bob", "hunter2")),
                new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[100])));
        runChecks(ch);
        FullHttpResponse r = ch.readOutbound();
        assertEquals(403, r.status().code());
        JsonNode e = error(r);
        assertEquals("DENIED", e.path("code").asText());
        assertTrue(e.path("detail").asText().contains("bob"));
        assertNull(r.headers().get(HttpHeaderNames.WWW_AUTHENTICATE));
        r.release();
        ch.writeInbound(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[10])));
        assertNull(ch.readInbound(), "the body is dropped");

        HttpRequest pull = request(HttpMethod.GET, "/v2/app/manifests/1", basic("bob", "hunter2"));
        ch.writeInbound(pull);
        assertSame(pull, ch.readInbound(), "the next request on the connection is decided on its own");
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void repeatedFailuresAre429WithRetryAfter() throws Exception {
        EmbeddedChannel ch = channel(queued);
        for (int i = 0; i < FailureThrottle.FREE_FAILURES; i++) {
            ch.writeInbound(request(HttpMethod.GET, "/v2/", basic("alice", "guess" + i)), LastHttpContent.EMPTY_LAST_CONTENT);
            runChecks(ch);
            FullHttpResponse r = ch.readOutbound();
            assertEquals(401, r.status().code());
            r.release();
        }
        ch.writeInbound(request(HttpMethod.GET, "/v2/", basic("alice", "s3cret")), LastHttpContent.EMPTY_LAST_CONTENT);
        assertTrue(checks.isEmpty(), "no check while throttled");
        FullHttpResponse r = ch.readOutbound();
        assertEquals(429, r.status().code());
        assertEquals("1", r.headers().get(HttpHeaderNames.RETRY_AFTER));
        assertEquals("TOOMANYREQUESTS", error(r).path("code").asText());
        r.release();
        assertNull(ch.readInbound());
        assertFalse(ch.finishAndReleaseAll());
    }

    /** Sends {@code GET /v2/} with {@code authorization}, runs any password check, and returns the answer. */
    private FullHttpResponse attempt(EmbeddedChannel ch, String authorization) {
        ch.writeInbound(request(HttpMethod.GET, "/v2/", authorization), LastHttpContent.EMPTY_LAST_CONTENT);
        runChecks(ch);
        FullHttpResponse r = ch.readOutbound();
        assertNotNull(r, "answered by the authentication handler (not let through)");
        return r;
    }

    /**
     * The boundary as the README states it: five failures within a minute are answered 401, the
     * sixth attempt 429, whatever its password and however long after the fifth failure it comes
     * (the delay starts at that refusal). Then the delays double: 1 s, 2 s.
     */
    @Test
    void theSixthAttemptAfterFiveFailuresIs429EvenWhenItComesLate() throws Exception {
        EmbeddedChannel ch = channel(queued);
        for (int i = 1; i <= FailureThrottle.FREE_FAILURES; i++) {
            FullHttpResponse r = attempt(ch, basic("alice", "guess" + i));
            assertEquals(401, r.status().code(), "failure " + i);
            r.release();
            clock.advance(Duration.ofSeconds(10)); // a person retrying, not a script: 50 s in all
        }
        FullHttpResponse sixth = attempt(ch, basic("alice", "s3cret"));
        assertEquals(429, sixth.status().code(), "the sixth attempt, with the right password");
        assertEquals("1", sixth.headers().get(HttpHeaderNames.RETRY_AFTER));
        assertEquals("TOOMANYREQUESTS", error(sixth).path("code").asText());
        sixth.release();
        assertNull(ch.readInbound(), "nothing reaches the registry");

        clock.advance(Duration.ofSeconds(1));
        FullHttpResponse seventh = attempt(ch, basic("alice", "guess6"));
        assertEquals(401, seventh.status().code(), "waited: checked, and wrong again");
        seventh.release();
        clock.advance(Duration.ofSeconds(20));
        FullHttpResponse eighth = attempt(ch, basic("alice", "guess7"));
        assertEquals(429, eighth.status().code());
        assertEquals("2", eighth.headers().get(HttpHeaderNames.RETRY_AFTER), "doubled");
        eighth.release();

        clock.advance(Duration.ofSeconds(2));
        HttpRequest right = request(HttpMethod.GET, "/v2/", basic("alice", "s3cret"));
        ch.writeInbound(right);
        runChecks(ch);
        assertSame(right, ch.readInbound(), "waited, with the right password: let through");
        assertNull(ch.readOutbound());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aPipelinedRequestWaitsForTheVerdictOfTheOneBefore() {
        EmbeddedChannel ch = channel(queued);
        HttpRequest first = request(HttpMethod.GET, "/v2/a/manifests/1", basic("bob", "hunter2"));
        HttpRequest second = request(HttpMethod.GET, "/v2/b/manifests/1", null);
        ch.writeInbound(first, LastHttpContent.EMPTY_LAST_CONTENT, second, LastHttpContent.EMPTY_LAST_CONTENT);
        assertNull(ch.readOutbound(), "the second is not answered before the first is decided");

        // The registry stops reading once it has the first request and its end, as RegistryHandler does.
        checks.poll().run();
        ch.runPendingTasks();
        assertSame(first, ch.readInbound());
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        FullHttpResponse r = ch.readOutbound();
        assertEquals(401, r.status().code(), "then the second is challenged");
        r.release();
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void heldMessagesFollowTheChannelsReadingState() {
        EmbeddedChannel ch = channel(queued);
        HttpRequest first = request(HttpMethod.GET, "/v2/a/manifests/1", basic("bob", "hunter2"));
        HttpRequest second = request(HttpMethod.GET, "/v2/b/manifests/1", basic("bob", "hunter2"));
        ch.writeInbound(first, LastHttpContent.EMPTY_LAST_CONTENT, second, LastHttpContent.EMPTY_LAST_CONTENT);
        // A downstream handler that stops reading when a request ends (the registry while it answers).
        ch.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof LastHttpContent) {
                    ctx.channel().config().setAutoRead(false);
                }
                ctx.fireChannelRead(msg);
            }
        });
        checks.poll().run();
        ch.runPendingTasks();
        assertSame(first, ch.readInbound());
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        assertNull(ch.readInbound(), "the second waits until reading resumes");

        ch.config().setAutoRead(true); // the registry answered
        assertSame(second, ch.readInbound(), "verified credentials: no new check");
        assertSame(LastHttpContent.EMPTY_LAST_CONTENT, ch.readInbound());
        assertTrue(checks.isEmpty());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aHugeRefusedBodyClosesTheConnection() {
        EmbeddedChannel ch = channel(queued);
        ch.writeInbound(request(HttpMethod.PATCH, "/v2/app/blobs/uploads/1", null));
        FullHttpResponse r = ch.readOutbound();
        assertEquals(401, r.status().code());
        r.release();
        for (int i = 0; i <= ClientAuthHandler.DISCARD_LIMIT / 65536 && ch.isOpen(); i++) {
            ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[65536])));
        }
        assertFalse(ch.isOpen());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aSaturatedCheckPoolIs503() throws Exception {
        EmbeddedChannel ch = channel(task -> {
            throw new RejectedExecutionException("full");
        });
        ch.writeInbound(request(HttpMethod.GET, "/v2/", basic("alice", "s3cret")), LastHttpContent.EMPTY_LAST_CONTENT);
        FullHttpResponse r = ch.readOutbound();
        assertEquals(503, r.status().code());
        assertEquals("UNAVAILABLE", error(r).path("code").asText());
        r.release();
        assertTrue(ch.config().isAutoRead());
        assertNull(ch.readInbound());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aConnectionClosedDuringTheCheckReleasesWhatWasHeld() {
        EmbeddedChannel ch = channel(queued);
        HttpContent body = new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[8]));
        ch.writeInbound(request(HttpMethod.PATCH, "/v2/app/blobs/uploads/1", basic("alice", "s3cret")), body);
        ch.close();
        runChecks(ch);
        assertEquals(0, ReferenceCountUtil.refCnt(body));
        assertNull(ch.readInbound());
        assertFalse(ch.finishAndReleaseAll());
    }
}
