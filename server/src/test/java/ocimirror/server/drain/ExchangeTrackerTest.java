package ocimirror.server.drain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The per-connection count of exchanges in flight, and what draining does to a connection. */
class ExchangeTrackerTest {
    final ConnectionDrain drain = new ConnectionDrain();

    @Test
    void anExchangeIsInFlightFromItsRequestToTheLastPartOfItsResponse() {
        EmbeddedChannel ch = new EmbeddedChannel(drain.newHandler());
        assertEquals(1, drain.connections());
        request(ch);
        assertEquals(1, drain.inFlight());
        ch.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        assertEquals(1, drain.inFlight(), "the head alone does not end it");
        ch.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        assertEquals(0, drain.inFlight());
        assertTrue(ch.isOpen(), "not draining: the connection stays");
        assertTrue(HttpUtil.isKeepAlive(ch.<HttpResponse>readOutbound()), "keep-alive untouched");
        releaseOutbound(ch);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aContinueIsNotTheAnswerAndPipelinedRequestsCountEach() {
        EmbeddedChannel ch = new EmbeddedChannel(drain.newHandler());
        request(ch);
        request(ch);
        assertEquals(2, drain.inFlight());
        ch.writeOutbound(response(HttpResponseStatus.CONTINUE));
        assertEquals(2, drain.inFlight(), "100 Continue is not final");
        ch.writeOutbound(response(HttpResponseStatus.CREATED));
        assertEquals(1, drain.inFlight());
        ch.writeOutbound(response(HttpResponseStatus.NOT_FOUND));
        assertEquals(0, drain.inFlight());
        ch.writeOutbound(response(HttpResponseStatus.BAD_REQUEST)); // answers nothing counted: no negative count
        assertEquals(0, drain.inFlight());
        request(ch);
        assertEquals(1, drain.inFlight());
        releaseOutbound(ch);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aClosedConnectionEndsWhatWasInFlightOnIt() throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel(drain.newHandler());
        request(ch);
        request(ch);
        ch.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        ch.close();
        assertEquals(0, drain.inFlight());
        assertEquals(0, drain.connections());
        assertTrue(drain.awaitInFlight(Duration.ZERO));
        releaseOutbound(ch);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void drainingClosesIdleConnectionsAtOnceAndBusyOnesAfterTheirLastResponse() throws Exception {
        EmbeddedChannel idle = new EmbeddedChannel(drain.newHandler());
        EmbeddedChannel busy = new EmbeddedChannel(drain.newHandler());
        request(busy);
        drain.begin();
        assertTrue(drain.draining());
        idle.runPendingTasks();
        busy.runPendingTasks();
        assertFalse(idle.isOpen(), "an idle connection is closed when the drain begins");
        assertTrue(busy.isOpen(), "a connection with a request in flight stays");
        assertFalse(drain.awaitInFlight(Duration.ofMillis(20)), "one request is still in flight");

        busy.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        HttpResponse head = busy.readOutbound();
        assertFalse(HttpUtil.isKeepAlive(head), "a response written while draining says Connection: close");
        assertTrue(busy.isOpen());
        busy.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        assertFalse(busy.isOpen(), "closed once its last response is written");
        assertEquals(0, drain.inFlight());
        assertTrue(drain.awaitInFlight(Duration.ZERO));
        assertEquals(0, drain.connections());

        EmbeddedChannel late = new EmbeddedChannel(drain.newHandler());
        assertFalse(late.isOpen(), "a connection accepted while draining is closed at once");
        releaseOutbound(busy);
        assertFalse(idle.finishAndReleaseAll());
        assertFalse(busy.finishAndReleaseAll());
        assertFalse(late.finishAndReleaseAll());
    }

    @Test
    void whileDrainingPipelinedRequestsAreAllAnsweredBeforeTheConnectionCloses() {
        EmbeddedChannel ch = new EmbeddedChannel(drain.newHandler());
        request(ch);
        request(ch);
        drain.begin();
        ch.runPendingTasks();
        ch.writeOutbound(response(HttpResponseStatus.OK));
        assertTrue(HttpUtil.isKeepAlive(ch.<HttpResponse>readOutbound()), "another request waits for its answer");
        assertTrue(ch.isOpen());
        ch.writeOutbound(response(HttpResponseStatus.OK));
        assertFalse(HttpUtil.isKeepAlive(ch.<HttpResponse>readOutbound()), "the last answer says Connection: close");
        assertFalse(ch.isOpen());
        assertEquals(0, drain.inFlight());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void closeAllCutsWhatIsLeft() {
        EmbeddedChannel ch = new EmbeddedChannel(drain.newHandler());
        request(ch);
        drain.begin();
        ch.runPendingTasks();
        assertTrue(ch.isOpen());
        drain.closeAll();
        assertFalse(ch.isOpen());
        assertEquals(0, drain.inFlight());
        assertNull(ch.readOutbound());
        assertFalse(ch.finishAndReleaseAll());
    }

    private static void request(EmbeddedChannel ch) {
        ch.writeInbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/"));
        ReferenceCountUtil.release(ch.readInbound());
    }

    private static DefaultFullHttpResponse response(HttpResponseStatus status) {
        return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status);
    }

    private static void releaseOutbound(EmbeddedChannel ch) {
        Object m;
        while ((m = ch.readOutbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }
}
