package ocimirror.server.warmup;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.server.upstream.NettyUpstreamClient;
import org.junit.jupiter.api.Test;

/** The warm-up client's response parser (EmbeddedChannel), and its requests against the warm-up's upstream. */
class WarmupClientTest {

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, US_ASCII);
    }

    @Test
    void aResponseIsReadWhenItsWholeBodyHasComeWhereverTheReadsSplitIt() {
        WarmupClient.Connection c = new WarmupClient.Connection();
        EmbeddedChannel ch = new EmbeddedChannel(c);
        CompletableFuture<Void> done = new CompletableFuture<>();
        c.start(done, false);
        // The blank line split across reads, the body over three.
        ch.writeInbound(ascii("HTTP/1.1 200 OK\r\ncontent-type: x\r\nContent-Length: 10\r\n\r"));
        ch.writeInbound(ascii("\n0123"));
        assertFalse(done.isDone(), "6 bytes of the body still to come");
        ch.writeInbound(ascii("45"));
        ch.writeInbound(ascii("6789"));
        assertTrue(done.isDone() && !done.isCompletedExceptionally());

        // The next request on the same connection: head and body in one read.
        CompletableFuture<Void> next = new CompletableFuture<>();
        c.start(next, false);
        ch.writeInbound(ascii("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
        assertTrue(next.isDone() && !next.isCompletedExceptionally());
        assertTrue(ch.isActive());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void theAnswerToAHeadHasNoBody() {
        WarmupClient.Connection c = new WarmupClient.Connection();
        EmbeddedChannel ch = new EmbeddedChannel(c);
        CompletableFuture<Void> done = new CompletableFuture<>();
        c.start(done, true);
        ch.writeInbound(ascii("HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n"));
        assertTrue(done.isDone() && !done.isCompletedExceptionally());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void anythingButA200WithItsLengthFailsTheRequestAndClosesTheConnection() {
        for (String response : new String[] {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "HTTP/1.1 200 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab"}) {
            WarmupClient.Connection c = new WarmupClient.Connection();
            EmbeddedChannel ch = new EmbeddedChannel(c);
            CompletableFuture<Void> done = new CompletableFuture<>();
            c.start(done, false);
            ch.writeInbound(ascii(response));
            assertTrue(done.isCompletedExceptionally(), response);
            assertFalse(ch.isActive(), response);
            assertFalse(ch.finishAndReleaseAll());
        }
    }

    @Test
    void aConnectionClosedBeforeTheResponseFailsTheRequest() {
        WarmupClient.Connection c = new WarmupClient.Connection();
        EmbeddedChannel ch = new EmbeddedChannel(c);
        CompletableFuture<Void> done = new CompletableFuture<>();
        c.start(done, false);
        ch.writeInbound(ascii("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12"));
        ch.close();
        assertTrue(done.isCompletedExceptionally());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void requestsOverRealConnectionsToTheWarmUpUpstream() throws Exception {
        EventLoopGroup group = NettyUpstreamClient.newEventLoopGroup(1); // as Warmup
        try (WarmupUpstream upstream = new WarmupUpstream(group);
             WarmupClient client = new WarmupClient(group, upstream.port(), false)) {
            byte[] blob = new byte[300_000]; // several reads
            upstream.putBlob("sha256:b", blob, blob.length);
            upstream.putManifest("v1", "sha256:m", "{}".getBytes(US_ASCII));
            client.connect(2);
            ByteBuf get = WarmupClient.request("GET", "/v2/x/blobs/sha256:b");
            ByteBuf head = WarmupClient.request("HEAD", "/v2/x/manifests/v1", "Accept: application/json");
            for (int i = 0; i < 3; i++) { // the prepared bytes are sent again and again
                client.send(0, get, false).get(10, TimeUnit.SECONDS);
                client.send(1, head, true).get(10, TimeUnit.SECONDS);
            }
            ExecutionException missing = assertThrows(ExecutionException.class, () -> client.send(0,
                    WarmupClient.request("GET", "/v2/x/blobs/sha256:none"), false).get(10, TimeUnit.SECONDS));
            assertEquals("warm-up: the proxy answered HTTP/1.1 404 Not Found", missing.getCause().getMessage());
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
