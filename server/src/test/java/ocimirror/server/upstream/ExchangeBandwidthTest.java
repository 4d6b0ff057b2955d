package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * An {@link Exchange} over its upstream's {@code maxBandwidth}: it stops asking for reads and
 * resumes from a scheduled task, on an {@link EmbeddedChannel} whose time the test moves.
 */
class ExchangeBandwidthTest {
    private static final int CHUNK = 32 * 1024;

    long now;
    final AtomicInteger reads = new AtomicInteger();
    final AtomicLong delivered = new AtomicLong();

    @Test
    void overTheRateReadingPausesUntilTheBucketRefills() {
        TokenBucket bucket = new TokenBucket(64 * 1024, () -> now); // 64 KiB/s, 6.4 KiB of burst
        EmbeddedChannel ch = channel();
        CompletableFuture<RawResponse> result = new CompletableFuture<>();
        new Exchange(ch, Origin.of(URI.create("http://up.test")), false,
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/a/blobs/x", Unpooled.EMPTY_BUFFER),
                TimeUnit.SECONDS.toNanos(30), TimeUnit.SECONDS.toNanos(60), target(), 0,
                c -> c.eventLoop().newSucceededFuture(null), result, bucket).start();
        ReferenceCountUtil.release(ch.readOutbound()); // the request

        DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 2 * CHUNK);
        ch.writeInbound(head);
        int before = reads.get();
        ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[CHUNK])));
        assertEquals(CHUNK, delivered.get());
        assertEquals(before, reads.get(), "over the rate: no next read");
        // 32 KiB read against 6.4 KiB of burst: 25.6 KiB of debt, 400 ms at 64 KiB/s.
        ch.advanceTimeBy(399, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals(before, reads.get(), "no read while over the rate");

        now += TimeUnit.MILLISECONDS.toNanos(400);
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertEquals(before + 1, reads.get(), "reading resumes once the debt is paid");

        ch.writeInbound(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[CHUNK])));
        assertEquals(200, result.getNow(null).status());
        assertEquals(2 * CHUNK, delivered.get());
        assertTrue(bucket.pausedNanos() >= TimeUnit.MILLISECONDS.toNanos(400));
        assertFalse(ch.finishAndReleaseAll());
    }

    private EmbeddedChannel channel() {
        EmbeddedChannel ch = new EmbeddedChannel(new ChannelOutboundHandlerAdapter() {
            @Override
            public void read(ChannelHandlerContext ctx) {
                reads.incrementAndGet();
                ctx.read();
            }
        });
        ch.pipeline().addLast(HttpTransport.GUARD, HttpTransport.IdleGuard.INSTANCE);
        ch.freezeTime();
        return ch;
    }

    private Exchange.BodyTarget target() {
        return new Exchange.BodyTarget() {
            @Override
            public CompletionStage<Void> start(long contentLength) {
                return CompletableFuture.completedFuture(null);
            }

            @Override
            public CompletionStage<Void> data(ByteBuffer data) {
                delivered.addAndGet(data.remaining());
                return CompletableFuture.completedFuture(null);
            }
        };
    }
}
