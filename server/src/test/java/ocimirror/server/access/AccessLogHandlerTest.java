package ocimirror.server.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.net.ssl.SSLHandshakeException;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.server.pullthrough.CacheResult;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RouteKind;
import ocimirror.testing.PromText;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The access log handler on an {@link EmbeddedChannel}: what it records, sends back and logs. */
class AccessLogHandlerTest {
    final MirrorMetrics metrics = new MirrorMetrics();
    final String loggerName = "test.access." + UUID.randomUUID();
    final ListAppender<ILoggingEvent> lines = new ListAppender<>() {
        @Override
        protected void append(ILoggingEvent e) {
            e.prepareForDeferredProcessing(); // keep the MDC, which the handler clears right after
            super.append(e);
        }
    };

    @BeforeEach
    void capture() {
        Logger logger = (Logger) LoggerFactory.getLogger(loggerName);
        logger.setLevel(Level.DEBUG);
        lines.setContext(logger.getLoggerContext());
        lines.start();
        logger.addAppender(lines);
    }

    @AfterEach
    void close() {
        ((Logger) LoggerFactory.getLogger(loggerName)).detachAppender(lines);
        metrics.close();
    }

    private EmbeddedChannel channel() {
        return new EmbeddedChannel(new AccessLogHandler(metrics, new AccessLog(LoggerFactory.getLogger(loggerName), true),
                new OciRouteParser()));
    }

    private static HttpRequest get(String uri) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
    }

    private Map<String, String> line(int i) {
        return lines.list.get(i).getMDCPropertyMap();
    }

    private PromText scrape() {
        return PromText.parse(metrics.scrape());
    }

    @Test
    void aFullResponseIsLoggedWithItsStatusBytesAndARequestIdSentBack() {
        EmbeddedChannel ch = channel();
        HttpRequest request = get("/v2/?ns=docker.io");
        ch.writeInbound(request, LastHttpContent.EMPTY_LAST_CONTENT);
        assertSame(request, ch.readInbound());
        RequestRecord record = AccessLogHandler.recordOf(ch.pipeline().context(AccessLogHandler.class), request);
        record.upstream("docker.io");
        record.cache(CacheResult.HIT);
        record.route(RouteKind.MANIFEST);
        ReferenceCountUtil.release(ch.readInbound());

        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5})));
        FullHttpResponse sent = ch.readOutbound();
        String id = sent.headers().get(AccessLogHandler.REQUEST_ID);
        assertTrue(id.matches("[0-9a-f]{12}"), id);
        sent.release();

        assertEquals(1, lines.list.size());
        Map<String, String> f = line(0);
        assertEquals("GET", f.get("method"));
        assertEquals("/v2/", f.get("path"), "no query");
        assertEquals("manifest", f.get("route"));
        assertEquals("200", f.get("status"));
        assertEquals("5", f.get("bytes"));
        assertEquals("docker.io", f.get("upstream"));
        assertEquals("hit", f.get("cache"));
        assertEquals(id, f.get("request_id"));
        assertEquals(Level.INFO, lines.list.get(0).getLevel());
        assertTrue(lines.list.get(0).getFormattedMessage().startsWith("method=GET path=/v2/ route=manifest status=200 "
                + "bytes=5 duration_ms="), lines.list.get(0).getFormattedMessage());
        assertTrue(MDCisClear());

        PromText m = scrape();
        assertEquals(1, m.value("ocimirror_http_requests_total", "route", "manifest", "method", "GET", "status", "200"));
        assertEquals(5, m.value("ocimirror_http_served_bytes_total", "route", "manifest"));
        assertEquals(1, m.value("ocimirror_cache_requests_total", "kind", "manifest", "result", "hit"));
        assertEquals(1, m.value("ocimirror_http_connections"));
        assertFalse(ch.finishAndReleaseAll());
        assertEquals(0, scrape().value("ocimirror_http_connections"));
    }

    @Test
    void withTheBuiltInTextPatternTheFieldsAreInTheLineOnlyNotTheMdc() {
        EmbeddedChannel ch = new EmbeddedChannel(new AccessLogHandler(metrics,
                new AccessLog(LoggerFactory.getLogger(loggerName), false), new OciRouteParser()));
        HttpRequest request = get("/v2/");
        ch.writeInbound(request, LastHttpContent.EMPTY_LAST_CONTENT);
        ReferenceCountUtil.release(ch.readInbound());
        ReferenceCountUtil.release(ch.readInbound());
        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.wrappedBuffer(new byte[] {1, 2})));
        ReferenceCountUtil.release(ch.readOutbound());

        assertEquals(1, lines.list.size());
        assertTrue(line(0).isEmpty(), "no MDC: " + line(0));
        assertTrue(lines.list.get(0).getFormattedMessage().startsWith("method=GET path=/v2/ route=base status=200 bytes=2 "),
                lines.list.get(0).getFormattedMessage());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void theBuiltInConfigurationLeavesTheMdcOutAndJsonPutsItBack() {
        ch.qos.logback.classic.LoggerContext ctx = new ch.qos.logback.classic.LoggerContext();
        new LogConfigurator(name -> null).configure(ctx);
        assertEquals("false", ctx.getProperty(LogSetup.FIELDS_IN_MDC));
    }

    private static boolean MDCisClear() {
        return org.slf4j.MDC.getCopyOfContextMap() == null || org.slf4j.MDC.getCopyOfContextMap().isEmpty();
    }

    @Test
    void aStreamedBodyCountsEveryWrittenPartAndAContinueIsNotTheAnswer() {
        EmbeddedChannel ch = channel();
        HttpRequest request = get("/v2/library/x/blobs/sha256:" + "a".repeat(64));
        request.headers().set(AccessLogHandler.REQUEST_ID, "lb-7.abc_Z");
        ch.writeInbound(request);
        ReferenceCountUtil.release(ch.readInbound());

        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        FullHttpResponse cont = ch.readOutbound();
        assertNull(cont.headers().get(AccessLogHandler.REQUEST_ID));
        cont.release();
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.PARTIAL_CONTENT);
        ch.writeOutbound(head, new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[3])));
        assertTrue(lines.list.isEmpty(), "not over before the last part");
        ch.writeOutbound(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[2])));
        assertEquals("lb-7.abc_Z", head.headers().get(AccessLogHandler.REQUEST_ID), "a valid id given is kept");
        drain(ch);

        assertEquals(1, lines.list.size());
        assertEquals("206", line(0).get("status"));
        assertEquals("5", line(0).get("bytes"));
        assertEquals("blob", line(0).get("route"), "parsed by the handler when nothing else set it");
        assertEquals("-", line(0).get("upstream"));
        assertEquals("-", line(0).get("cache"));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aConnectionClosedBeforeTheAnswerIsLogged499AndAnInvalidIdIsReplaced() {
        EmbeddedChannel ch = channel();
        HttpRequest request = get("/v2/app/manifests/1");
        request.headers().set(AccessLogHandler.REQUEST_ID, "bad id;" + "x".repeat(80));
        ch.writeInbound(request);
        ReferenceCountUtil.release(ch.readInbound());
        ch.close();

        assertEquals(1, lines.list.size());
        assertEquals("499", line(0).get("status"));
        assertEquals("true", line(0).get("aborted"));
        assertTrue(line(0).get("request_id").matches("[0-9a-f]{12}"));
        assertEquals(1, scrape().value("ocimirror_http_requests_total", "status", "499"));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void probesLogAtDebugUnlessTheyFail() {
        EmbeddedChannel ch = channel();
        for (HttpResponseStatus status : List.of(HttpResponseStatus.OK, HttpResponseStatus.SERVICE_UNAVAILABLE)) {
            ch.writeInbound(get("/readyz"));
            ReferenceCountUtil.release(ch.readInbound());
            ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status));
            drain(ch);
        }
        assertEquals(List.of(Level.DEBUG, Level.INFO), lines.list.stream().map(ILoggingEvent::getLevel).toList());
        assertEquals("readyz", line(1).get("route"));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void tlsHandshakesAreCounted() {
        EmbeddedChannel ch = channel();
        ch.pipeline().fireUserEventTriggered(SslHandshakeCompletionEvent.SUCCESS);
        ch.pipeline().fireUserEventTriggered(new SslHandshakeCompletionEvent(new SSLHandshakeException("unknown ca")));
        ch.pipeline().fireUserEventTriggered(SslHandshakeCompletionEvent.SUCCESS);
        PromText m = scrape();
        assertEquals(2, m.value("ocimirror_tls_handshakes_total", "result", "success"));
        assertEquals(1, m.value("ocimirror_tls_handshakes_total", "result", "failure"));
        assertFalse(ch.finishAndReleaseAll());
    }

    private static void drain(EmbeddedChannel ch) {
        Object o;
        while ((o = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(o);
        }
    }
}
