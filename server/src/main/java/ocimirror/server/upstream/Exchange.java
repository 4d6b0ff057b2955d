package ocimirror.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import ocimirror.server.upstream.UpstreamException.Kind;

/**
 * One request and its response on one pooled connection. Lives in the channel's pipeline
 * for the duration and runs only on the channel's event loop. Reads are manual (autoRead
 * off): the next socket read is requested only when the body consumer is ready, which is
 * how a slow disk holds back the upstream instead of filling memory.
 */
final class Exchange extends ChannelInboundHandlerAdapter {

    /** Receives a 2xx body; calls come one at a time on the event loop. */
    interface BodyTarget {
        CompletionStage<Void> start(long contentLength);

        CompletionStage<Void> data(ByteBuffer data);
    }

    /** Body bytes read ahead of a busy sink before reading pauses (per download). */
    static final int READ_AHEAD = 1 << 20;

    /** Error bodies are kept only for their message. */
    static final int ERROR_BODY_LIMIT = 16 * 1024;

    private enum State { HEADERS, AGGREGATE, STREAM, DONE }

    private final Channel ch;
    private final Origin origin;
    private final boolean reused;
    private final HttpRequest request;
    private final long firstByteNanos;
    private final long idleNanos;
    private final BodyTarget target;
    private final int aggregateLimit;
    private final Function<Channel, io.netty.util.concurrent.Future<Void>> release;
    private final CompletableFuture<RawResponse> result;
    private final TokenBucket bandwidth;

    private State state = State.HEADERS;
    private HttpResponse response;
    private long contentLength = -1;
    private long received;
    private ByteArrayOutputStream body;
    private int bodyCap;
    private boolean failOnOverflow;
    private CompositeByteBuf batch;
    private boolean sinkBusy;
    private boolean lastSeen;
    private boolean inputClosed;
    private long unpaid;
    private boolean paused;
    private long startedAt;
    private long lastActivity;
    private io.netty.util.concurrent.ScheduledFuture<?> timer;

    Exchange(Channel ch, Origin origin, boolean reused, HttpRequest request, long firstByteNanos, long idleNanos,
             BodyTarget target, int aggregateLimit, Function<Channel, io.netty.util.concurrent.Future<Void>> release,
             CompletableFuture<RawResponse> result, TokenBucket bandwidth) {
        this.ch = ch;
        this.origin = origin;
        this.reused = reused;
        this.request = request;
        this.firstByteNanos = firstByteNanos;
        this.idleNanos = idleNanos;
        this.target = target;
        this.aggregateLimit = aggregateLimit;
        this.release = release;
        this.result = result;
        this.bandwidth = bandwidth;
    }

    /** Installs itself and sends the request; call on the channel's event loop. */
    void start() {
        startedAt = lastActivity = System.nanoTime();
        // A cancelled result (the caller gave up) aborts the exchange and drops the connection.
        result.whenComplete((r, e) -> {
            if (result.isCancelled()) {
                ch.eventLoop().execute(() -> fail(new CancellationException("cancelled")));
            }
        });
        ch.config().setAutoRead(false);
        ch.pipeline().addBefore(HttpTransport.GUARD, HttpTransport.EXCHANGE, this);
        ch.writeAndFlush(request).addListener(f -> {
            if (!f.isSuccess()) {
                ch.eventLoop().execute(() -> fail(beforeResponse(f.cause())));
            }
        });
        schedule(firstByteNanos);
        ch.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (state == State.DONE) {
                return;
            }
            lastActivity = System.nanoTime();
            if (msg instanceof HttpResponse r) {
                onHeaders(r);
            }
            if (msg instanceof HttpContent c && state != State.DONE) {
                onContent(c);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHeaders(HttpResponse r) {
        if (state != State.HEADERS) {
            fail(protocol("sent a second response to one request", null));
            return;
        }
        if (r.decoderResult().isFailure()) {
            fail(protocol("sent a malformed response", r.decoderResult().cause()));
            return;
        }
        int code = r.status().code();
        if (code < 200) {
            fail(protocol("sent an informational status " + code + " to a GET", null));
            return;
        }
        response = r;
        timer.cancel(false);
        schedule(idleNanos);
        contentLength = HttpUtil.getContentLength(r, -1L);
        boolean success = code / 100 == 2;
        boolean head = HttpMethod.HEAD.equals(request.method());
        if (success && target != null && !head) {
            state = State.STREAM;
            batch = ch.alloc().compositeBuffer(Integer.MAX_VALUE); // no consolidation copies while it grows
            sinkBusy = true;
            callSink(() -> target.start(contentLength), null);
            return;
        }
        bodyCap = success ? aggregateLimit : ERROR_BODY_LIMIT;
        failOnOverflow = success;
        if (success && !head && contentLength > bodyCap) {
            fail(protocol("declared a body of " + contentLength + " bytes, over the limit of " + bodyCap, null));
            return;
        }
        state = State.AGGREGATE;
        body = new ByteArrayOutputStream(contentLength >= 0 && contentLength <= bodyCap ? (int) contentLength : 1024);
    }

    private void onContent(HttpContent c) {
        if (c.decoderResult().isFailure()) {
            fail(midBody(c.decoderResult().cause()));
            return;
        }
        if (state == State.HEADERS) {
            fail(protocol("sent content before a status line", null));
            return;
        }
        ByteBuf content = c.content();
        int n = content.readableBytes();
        received += n;
        if (state == State.AGGREGATE && n > 0) {
            if (body.size() + n > bodyCap) {
                if (failOnOverflow) {
                    fail(protocol("sent a body over the limit of " + bodyCap + " bytes", null));
                    return;
                }
            } else {
                byte[] chunk = new byte[n];
                content.getBytes(content.readerIndex(), chunk);
                body.write(chunk, 0, n);
            }
        } else if (state == State.STREAM && n > 0) {
            batch.addComponent(true, content.retain());
            unpaid += n;
        }
        if (c instanceof LastHttpContent) {
            lastSeen = true;
            if (state == State.AGGREGATE) {
                finish();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (state == State.STREAM) {
            deliver();
        } else if (state != State.DONE) {
            ch.read();
        }
    }

    /**
     * Hands the bytes gathered so far to the sink if it is free, and keeps reading while it works
     * until {@link #READ_AHEAD} bytes wait: the network and the disk (write and hash) overlap, and
     * a busy sink gets larger batches, so a fast upstream costs fewer hand-offs per MiB. Past the
     * mark, reading stops until the sink is done: a slow disk still holds back the upstream.
     */
    private void deliver() {
        if (state != State.STREAM) {
            return;
        }
        if (!sinkBusy) {
            if (batch.isReadable()) {
                ByteBuf b = contiguous(batch);
                batch = ch.alloc().compositeBuffer(Integer.MAX_VALUE);
                sinkBusy = true;
                ByteBuffer data = b.nioBuffer();
                callSink(() -> target.data(data), b);
                if (state != State.STREAM) {
                    return; // the sink failed at once
                }
            } else if (lastSeen) {
                finish();
                return;
            } else if (inputClosed) {
                fail(midBody(null));
                return;
            }
        }
        if (!lastSeen && !inputClosed && !paused && batch.readableBytes() < READ_AHEAD) {
            readOrPause();
        }
    }

    /**
     * The next read, unless the upstream's {@code maxBandwidth} says to pause first: then reading
     * resumes from a scheduled task (the socket's buffer fills meanwhile, and TCP slows the sender).
     */
    private void readOrPause() {
        long wait = bandwidth == null || unpaid == 0 ? 0 : bandwidth.take(unpaid);
        unpaid = 0;
        if (wait <= 0) {
            ch.read();
            return;
        }
        paused = true;
        ch.eventLoop().schedule(() -> {
            paused = false;
            lastActivity = System.nanoTime();
            deliver();
        }, wait, TimeUnit.NANOSECONDS);
    }

    /**
     * The batch as one direct buffer: itself when it has one component, else its components
     * copied into a pooled direct buffer. A composite's own {@code nioBuffer()} copies them into a
     * new heap array (1 MiB at a time: every cold byte passed through the Java heap, which grew
     * by 9 MiB during one download) and the file channel then copies that into a direct buffer
     * of its own before writing.
     */
    private ByteBuf contiguous(CompositeByteBuf b) {
        if (b.numComponents() <= 1) {
            return b;
        }
        ByteBuf direct = ch.alloc().directBuffer(b.readableBytes());
        try {
            // Component by component: writeBytes(b) would go through b.nioBuffer(), the heap copy.
            for (ByteBuffer part : b.nioBuffers()) {
                direct.writeBytes(part);
            }
        } catch (RuntimeException e) {
            direct.release();
            throw e;
        } finally {
            b.release();
        }
        return direct;
    }

    private void callSink(Supplier<CompletionStage<Void>> call, ByteBuf hold) {
        CompletionStage<Void> stage;
        try {
            stage = call.get();
        } catch (RuntimeException e) {
            stage = CompletableFuture.failedFuture(e);
        }
        if (stage == null) {
            stage = CompletableFuture.completedFuture(null);
        }
        stage.whenComplete((v, err) -> {
            if (ch.eventLoop().inEventLoop()) {
                onSinkDone(err, hold);
            } else {
                ch.eventLoop().execute(() -> onSinkDone(err, hold));
            }
        });
    }

    private void onSinkDone(Throwable err, ByteBuf hold) {
        if (hold != null) {
            hold.release();
        }
        sinkBusy = false;
        lastActivity = System.nanoTime();
        if (state == State.DONE) {
            return;
        }
        if (err != null) {
            fail(err instanceof CompletionException && err.getCause() != null ? err.getCause() : err);
            return;
        }
        deliver();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        inputClosed = true;
        if (state == State.DONE || (state == State.STREAM && lastSeen)) {
            return; // the whole body is in hand; deliver() finishes
        }
        fail(state == State.HEADERS ? beforeResponse(null) : midBody(null));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (state == State.DONE) {
            ctx.close();
            return;
        }
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof TooLongFrameException) {
            fail(protocol("sent headers over the size limit", c));
        } else if (state == State.HEADERS) {
            fail(beforeResponse(c));
        } else {
            fail(midBody(c));
        }
    }

    private void schedule(long delayNanos) {
        timer = ch.eventLoop().schedule(this::checkTimeouts, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void checkTimeouts() {
        if (state == State.DONE) {
            return;
        }
        long now = System.nanoTime();
        if (state == State.HEADERS) {
            long left = startedAt + firstByteNanos - now;
            if (left <= 0) {
                fail(new UpstreamException(Kind.TIMEOUT, origin + " sent no response within "
                        + TimeUnit.NANOSECONDS.toMillis(firstByteNanos) + " ms"));
            } else {
                schedule(left);
            }
            return;
        }
        if (sinkBusy || paused) {
            schedule(idleNanos); // the consumer or the bandwidth limit holds us back: not the upstream's silence
            return;
        }
        long left = lastActivity + idleNanos - now;
        if (left <= 0) {
            fail(new UpstreamException(Kind.TIMEOUT, origin + " sent nothing for "
                    + TimeUnit.NANOSECONDS.toMillis(idleNanos) + " ms after " + received + " body bytes"));
        } else {
            schedule(left);
        }
    }

    private void finish() {
        boolean head = HttpMethod.HEAD.equals(request.method());
        if (!head && contentLength >= 0 && received != contentLength) {
            fail(midBody(null));
            return;
        }
        state = State.DONE;
        cleanup();
        if (!HttpUtil.isKeepAlive(response) || inputClosed || !ch.isActive()) {
            ch.close();
        }
        RawResponse done = new RawResponse(response.status().code(), response.headers(),
                body == null ? null : body.toByteArray());
        // Back in the pool before the caller hears of it, so its next request can reuse the connection.
        release.apply(ch).addListener(f -> result.complete(done));
    }

    private void fail(Throwable e) {
        if (state == State.DONE) {
            return;
        }
        state = State.DONE;
        cleanup();
        ch.close();
        release.apply(ch).addListener(f -> result.completeExceptionally(e));
    }

    private void cleanup() {
        if (timer != null) {
            timer.cancel(false);
        }
        if (batch != null) {
            batch.release();
            batch = null;
        }
        if (ch.pipeline().context(this) != null) {
            ch.pipeline().remove(this);
        }
    }

    private Throwable beforeResponse(Throwable cause) {
        String msg = origin + " closed the connection before answering" + detail(cause);
        if (reused) {
            return new StaleConnectionException(msg, cause);
        }
        return new UpstreamException(Kind.UPSTREAM_ERROR, msg, cause);
    }

    private UpstreamException midBody(Throwable cause) {
        String of = contentLength >= 0 ? " of " + contentLength : "";
        return new UpstreamException(Kind.UPSTREAM_ERROR, origin + " broke off the response after " + received + of
                + " body bytes" + detail(cause), cause);
    }

    private UpstreamException protocol(String what, Throwable cause) {
        return new UpstreamException(Kind.PROTOCOL, origin + " " + what + detail(cause), cause);
    }

    private static String detail(Throwable cause) {
        if (cause == null) {
            return "";
        }
        String m = cause.getMessage();
        return ": " + (m == null || m.isBlank() || cause instanceof IOException && m.length() > 200
                ? cause.getClass().getSimpleName() : m);
    }
}
