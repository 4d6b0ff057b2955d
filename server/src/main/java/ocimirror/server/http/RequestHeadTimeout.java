package ocimirror.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.storage.oci.OciError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the time a request head (request line and headers) may take to arrive whole, so that a
 * client trickling header bytes cannot hold a connection, and its file descriptor, for ever: each
 * byte resets the idle timeout, but not this clock. One instance per connection.
 *
 * <p>The clock runs from the connection's accept for its first request (behind TLS, the handshake
 * is inside it) and from the first byte of each later head, as nginx's
 * {@code client_header_timeout} and Go's {@code ReadHeaderTimeout} do: a keep-alive connection
 * waiting for its next request is left to the idle timeout until a byte of that request arrives.
 * Bytes of a pipelined head that arrive while a response is still outstanding start the clock when
 * the last response has been written, since the client may be waiting for it. A partial head that
 * came in the same read as the end of the previous request's body is not seen until its next byte
 * (only the codec holds it); its clock starts then, and the idle timeout bounds it meanwhile.
 *
 * <p>On expiry: {@code 408 REQUEST_TIMEOUT} with {@code Connection: close} if any byte of the head
 * arrived, else a plain close (a preconnect that never asked anything, or a TLS handshake that
 * never finished, where no response could be read).
 *
 * <p>{@link #bytes()} goes before the HTTP codec (after TLS) and sees that bytes arrived;
 * {@link #messages()} goes right after the codec and sees heads complete, bodies end and responses
 * written. A head that arrives whole in the read that brought its first byte costs no timer; any
 * other gets one timer, scheduled at the end of that read and cancelled when the head is whole.
 * Event loop only.
 */
public final class RequestHeadTimeout {
    private static final Logger log = LoggerFactory.getLogger(RequestHeadTimeout.class);

    private enum Phase { HEAD, BODY, IDLE }

    private final long timeoutNanos;
    private final ErrorResponses errors;
    private final MirrorMetrics metrics;
    private final ChannelHandler bytes = new Bytes();
    private final ChannelHandler messages = new Messages();

    /** From accept, the first request's head is awaited. */
    private Phase phase = Phase.HEAD;
    /** Some byte of the head being awaited has arrived. */
    private boolean sawBytes;
    /** The head's clock runs (since {@link #headStart}). */
    private boolean started;
    private long headStart;
    /** Requests decoded whose final response has not been written whole. */
    private int outstanding;
    /** An interim (1xx) response is being written: its end is not a response's end. */
    private boolean interim;
    private ScheduledFuture<?> timer;
    /** The messages handler's context: the 408 is written there, through the codec. */
    private ChannelHandlerContext ctx;

    public RequestHeadTimeout(Duration timeout, ErrorResponses errors) {
        this(timeout, errors, null);
    }

    /** @param metrics counts the timeouts; null: not counted */
    public RequestHeadTimeout(Duration timeout, ErrorResponses errors, MirrorMetrics metrics) {
        this.timeoutNanos = timeout.toNanos();
        this.errors = Objects.requireNonNull(errors, "errors");
        this.metrics = metrics;
        if (timeoutNanos <= 0) {
            throw new IllegalArgumentException("timeout must be positive: " + timeout);
        }
    }

    /** The handler to add before the HTTP codec. */
    public ChannelHandler bytes() {
        return bytes;
    }

    /** The handler to add right after the HTTP codec. */
    public ChannelHandler messages() {
        return messages;
    }

    private long now() {
        return ctx.executor().ticker().nanoTime();
    }

    private void startClock() {
        started = true;
        headStart = now();
    }

    /** Arms the timer for the running clock, unless it is armed. */
    private void arm() {
        if (timer == null && started && phase == Phase.HEAD) {
            long delay = Math.max(0, headStart + timeoutNanos - now());
            timer = ctx.executor().schedule(this::expired, delay, TimeUnit.NANOSECONDS);
        }
    }

    private void disarm() {
        started = false;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expired() {
        timer = null;
        if (phase != Phase.HEAD || !started || !ctx.channel().isActive()) {
            return;
        }
        started = false;
        if (!sawBytes) {
            log.debug("no request from {} within {} ms of accept; closing", ctx.channel().remoteAddress(),
                    TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
            if (metrics != null) {
                metrics.acceptTimeout();
            }
            ctx.close();
            return;
        }
        if (metrics != null) {
            metrics.headTimeout();
        }
        log.debug("request head from {} not complete within {} ms; 408", ctx.channel().remoteAddress(),
                TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
        FullHttpResponse r = errors.response(OciError.REQUEST_TIMEOUT,
                "the request line and headers did not arrive within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                        + " ms", false);
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }

    private void responseEnded() {
        if (outstanding > 0) {
            outstanding--;
        }
        if (outstanding == 0 && phase == Phase.HEAD && sawBytes && !started) {
            startClock(); // a pipelined head: its turn begins now
            arm();
        }
    }

    /** Before the codec: the first byte of a head. */
    private final class Bytes extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext c, Object msg) throws Exception {
            if (msg instanceof ByteBuf b && b.isReadable()) {
                if (phase == Phase.IDLE) {
                    phase = Phase.HEAD;
                    if (outstanding == 0) {
                        startClock();
                    }
                }
                if (phase == Phase.HEAD) {
                    sawBytes = true;
                }
            }
            super.channelRead(c, msg);
        }
    }

    /** After the codec: heads complete, bodies end, responses end. */
    private final class Messages extends ChannelDuplexHandler {
        @Override
        public void handlerAdded(ChannelHandlerContext c) {
            ctx = c;
            if (c.channel().isActive()) {
                accepted();
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext c) throws Exception {
            accepted();
            super.channelActive(c);
        }

        /** The first request's clock; once, whether the channel was active when added or becomes so. */
        private void accepted() {
            if (!started && phase == Phase.HEAD && !sawBytes) {
                startClock();
                arm(); // a client that sends nothing brings no read to arm it at
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext c, Object msg) throws Exception {
            if (msg instanceof HttpRequest) {
                disarm();
                phase = Phase.BODY;
                sawBytes = false;
                outstanding++;
            }
            if (msg instanceof LastHttpContent && phase == Phase.BODY) {
                phase = Phase.IDLE;
            }
            super.channelRead(c, msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext c) throws Exception {
            arm();
            super.channelReadComplete(c);
        }

        @Override
        public void write(ChannelHandlerContext c, Object msg, ChannelPromise promise) throws Exception {
            if (msg instanceof HttpResponse r) {
                interim = r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
            }
            if (msg instanceof LastHttpContent) {
                if (interim) {
                    interim = false;
                } else {
                    responseEnded();
                }
            }
            super.write(c, msg, promise);
        }

        @Override
        public void channelInactive(ChannelHandlerContext c) throws Exception {
            disarm();
            super.channelInactive(c);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext c) {
            disarm();
        }
    }
}
