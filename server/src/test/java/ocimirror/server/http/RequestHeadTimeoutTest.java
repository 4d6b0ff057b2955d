package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.testing.PromText;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The head timeout around a real HTTP codec, with the embedded event loop's time advanced by hand. */
class RequestHeadTimeoutTest {
    static final long TIMEOUT_MS = 1000;
    static final String GET = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";

    final MockTicker ticker = Ticker.newMockTicker();
    final MirrorMetrics metrics = new MirrorMetrics();
    EmbeddedChannel ch;
    /** Whether the stand-in application answers each request as soon as its end arrives. */
    boolean answer = true;
    ChannelHandlerContext app;

    void open() {
        RequestHeadTimeout t = new RequestHeadTimeout(Duration.ofMillis(TIMEOUT_MS), new ErrorResponses(), metrics);
        // A mock ticker: the clock starts at accept, before a test could freeze the channel's time.
        ch = EmbeddedChannel.builder().ticker(ticker)
                .handlers(t.bytes(), new HttpServerCodec(), t.messages(), new Application()).build();
    }

    /** Answers 200 at the end of each request, if {@link #answer}. */
    final class Application extends ChannelInboundHandlerAdapter {
        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            app = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean last = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (last && answer) {
                ok();
            }
        }
    }

    void ok() {
        var r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
        app.writeAndFlush(r);
    }

    @AfterEach
    void finish() {
        metrics.close();
        assertFalse(ch.finishAndReleaseAll());
    }

    double timeouts(String phase) {
        return PromText.parse(metrics.scrape()).value("ocimirror_http_request_timeouts_total", "phase", phase);
    }

    void send(String s) {
        ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1));
    }

    void advance(long ms) {
        ticker.advance(ms, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
    }

    /** Everything written to the socket so far. */
    String written() {
        StringBuilder b = new StringBuilder();
        for (ByteBuf buf; (buf = ch.readOutbound()) != null; ) {
            b.append(buf.toString(StandardCharsets.ISO_8859_1));
            buf.release();
        }
        return b.toString();
    }

    @Test
    void aHeadTrickledPastTheTimeoutGets408AndTheConnectionCloses() {
        open();
        String head = GET;
        long step = TIMEOUT_MS / 10 - 1;   // every byte well within the idle time, the whole far beyond
        int i = 0;
        for (long t = 0; t + step < TIMEOUT_MS; t += step) {
            send(head.substring(i, i + 1));
            i++;
            advance(step);
        }
        assertTrue(ch.isActive(), "cut before the timeout");
        assertEquals("", written());
        advance(step);
        String out = written();
        assertTrue(out.startsWith("HTTP/1.1 408 Request Timeout\r\n"), out);
        assertTrue(out.toLowerCase().contains("connection: close"), out);
        assertTrue(out.contains("\"code\":\"REQUEST_TIMEOUT\""), out);
        assertFalse(ch.isActive());
        assertEquals(1, timeouts("head"));
        assertEquals(0, timeouts("accept"));
    }

    @Test
    void aHeadTrickledWithinTheTimeoutIsServedAndItsTimerCancelled() {
        open();
        for (char c : GET.toCharArray()) {
            send(String.valueOf(c));
            advance(TIMEOUT_MS / (GET.length() + 5));
        }
        assertTrue(written().startsWith("HTTP/1.1 200 OK"));
        assertEquals(-1, ch.runScheduledPendingTasks(), "the head's timer is still scheduled");
        // A long, honest keep-alive idle: the idle timeout's business, never a 408.
        advance(TIMEOUT_MS * 20);
        assertTrue(ch.isActive());
        assertEquals("", written());
        send(GET);
        assertTrue(written().startsWith("HTTP/1.1 200 OK"));
        assertEquals(-1, ch.runScheduledPendingTasks(), "a head that came whole in one read got a timer");
        advance(TIMEOUT_MS * 5);
        assertTrue(ch.isActive());
        assertEquals("", written());
    }

    @Test
    void aConnectionThatNeverSendsIsClosedWithoutAResponse() {
        open();
        advance(TIMEOUT_MS - 1);
        assertTrue(ch.isActive());
        advance(1);
        assertFalse(ch.isActive());
        assertEquals("", written());
        assertEquals(1, timeouts("accept"));
        assertEquals(0, timeouts("head"));
    }

    @Test
    void theClockStartsAtAccept() {
        open();
        advance(TIMEOUT_MS - 100);
        send("GET /v2/ HTTP/1.1\r\n");
        advance(99);
        assertTrue(ch.isActive());
        advance(1);
        assertTrue(written().startsWith("HTTP/1.1 408 "));
        assertFalse(ch.isActive());
    }

    @Test
    void onAKeepAliveConnectionTheClockStartsAtTheNextHeadsFirstByte() {
        open();
        send(GET);
        assertTrue(written().startsWith("HTTP/1.1 200 OK"));
        advance(TIMEOUT_MS * 3);
        send("GET /v2/ HTTP/1.1\r\nHost");
        advance(TIMEOUT_MS - 1);
        assertTrue(ch.isActive());
        assertEquals("", written());
        advance(1);
        assertTrue(written().startsWith("HTTP/1.1 408 "));
        assertFalse(ch.isActive());
    }

    @Test
    void aPipelinedHeadWaitsForThePreviousResponseBeforeItsClockStarts() {
        open();
        answer = false;
        send(GET);
        send("GET /v2/ HTTP/1.1\r\n");   // a second head, partial, behind a slow first request
        advance(TIMEOUT_MS * 3);
        assertTrue(ch.isActive());
        assertEquals("", written());
        ok();
        assertTrue(written().startsWith("HTTP/1.1 200 OK"));
        advance(TIMEOUT_MS - 1);
        assertTrue(ch.isActive());
        advance(1);
        assertTrue(written().startsWith("HTTP/1.1 408 "));   // after the first response, never instead of it
        assertFalse(ch.isActive());
    }

    @Test
    void aSlowBodyIsNotAHeadTimeout() {
        open();
        send("PUT /v2/x/manifests/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
        advance(TIMEOUT_MS * 3);
        assertTrue(ch.isActive());
        send("cd");
        assertTrue(written().startsWith("HTTP/1.1 200 OK"));
    }

    @Test
    void anInterimResponseDoesNotEndTheRequest() {
        open();
        answer = false;
        send("PUT /v2/x/manifests/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab");
        send("GET /v2/ HTTP/1.1\r\n");
        app.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        advance(TIMEOUT_MS * 2);
        assertTrue(ch.isActive(), "the 100 Continue started the pipelined head's clock");
        assertTrue(written().startsWith("HTTP/1.1 100 Continue"));
        ok();
        advance(TIMEOUT_MS);
        assertTrue(written().contains("HTTP/1.1 408 "));
        assertFalse(ch.isActive());
    }
}
