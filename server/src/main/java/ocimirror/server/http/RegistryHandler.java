package ocimirror.server.http;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;
import javax.net.ssl.SSLException;
import ocimirror.server.access.AccessLogHandler;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.server.metrics.Observability;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RouteKind;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.blob.GrowingBlob;
import ocimirror.storage.oci.OciError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty side of the registry: one instance per connection, one request at a time. It parses
 * each request once into an {@link OciRoute}, hands it to {@link RegistryEndpoints}, and owns the
 * request/response bookkeeping: bodies go to the current {@link RequestBody}, late completions of
 * a finished request are dropped, and reading pauses (with a {@code FlowControlHandler} in front,
 * pipelined requests wait too) while a response is pending or an upload's writes fall behind.
 *
 * <p>After an early response (a refusal before the body was read) the rest of the body is
 * discarded, up to {@link #DISCARD_LIMIT} bytes; past that the connection is closed rather than
 * read to its end.
 */
public final class RegistryHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(RegistryHandler.class);
    static final long DISCARD_LIMIT = 1 << 20;

    private final OciRouteParser parser;
    private final ErrorResponses errors;
    private final Executor storage;
    private final RegistryEndpoints endpoints;
    /** Counts stalled bodies; null without observability. */
    private final MirrorMetrics metrics;
    private ChannelHandlerContext ctx;
    private Exchange current;

    /**
     * A plain registry: every repository hosted.
     *
     * @param storage the bounded executor for anything that writes, fsyncs, hashes or scans
     */
    public RegistryHandler(RegistryService service, Executor storage, OciRouteParser parser, ErrorResponses errors) {
        this(service, new UpstreamRouter(List.of(), List.of()), null, storage, parser, errors);
    }

    /**
     * @param router      decides which repositories are hosted and which proxied
     * @param pullThrough serves the proxied ones; may be null only if {@code router} proxies nothing
     * @param storage     the bounded executor for anything that writes, fsyncs, hashes or scans
     */
    public RegistryHandler(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                           Executor storage, OciRouteParser parser, ErrorResponses errors) {
        this(service, router, pullThrough, storage, parser, errors, null);
    }

    /** @param ops serves {@code /metrics}, {@code /healthz} and {@code /readyz}; null: those are 404 */
    public RegistryHandler(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                           Executor storage, OciRouteParser parser, ErrorResponses errors, Observability ops) {
        this(service, router, pullThrough, storage, parser, errors, ops, UpstreamAuthorization.none());
    }

    /** @param authorization decides for the upstreams with {@code authorization: upstream} */
    public RegistryHandler(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                           Executor storage, OciRouteParser parser, ErrorResponses errors, Observability ops,
                           UpstreamAuthorization authorization) {
        this.parser = requireNonNull(parser, "parser");
        this.errors = requireNonNull(errors, "errors");
        this.storage = requireNonNull(storage, "storage");
        requireNonNull(router, "router");
        if (router.proxies()) {
            requireNonNull(pullThrough, "pullThrough");
        }
        this.endpoints = new RegistryEndpoints(this, requireNonNull(service, "service"), router, pullThrough, storage,
                ops == null ? null : new OpsEndpoints(ops), requireNonNull(authorization, "authorization"));
        this.metrics = ops == null ? null : ops.metrics();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof HttpRequest request) {
                onRequest(request);
            }
            if (msg instanceof HttpContent content) {
                onContent(content);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onRequest(HttpRequest request) {
        if (current != null) { // cannot happen behind the flow control handler: a protocol bug
            log.warn("request {} {} arrived before the previous one ended; closing", request.method(), request.uri());
            ctx.close();
            return;
        }
        Exchange ex = new Exchange(request, AccessLogHandler.recordOf(ctx, request));
        current = ex;
        if (request.decoderResult().isFailure()) {
            ex.record.route(RouteKind.INVALID);
            Throwable cause = request.decoderResult().cause();
            OciError error = cause instanceof TooLongFrameException ? OciError.HEADERS_TOO_LARGE : OciError.REQUEST_INVALID;
            FullHttpResponse response = errors.response(error, cause == null ? null : cause.getMessage(), false);
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ex.requestComplete = true;
            respond(ex, response);
            return;
        }
        try {
            OciRouteParser.ParsedRequest parsed;
            try {
                parsed = parser.parseRequest(request.uri());
            } catch (RuntimeException e) {
                ex.record.route(RouteKind.INVALID);
                throw e;
            }
            ex.record.parsed(parsed);
            endpoints.dispatch(ex, parsed);
        } catch (Throwable t) {
            fail(ex, t);
        }
    }

    private void onContent(HttpContent content) {
        Exchange ex = current;
        if (ex == null) {
            return;
        }
        if (content.decoderResult().isFailure()) {
            // A body cut short (the client closed mid-upload) or a broken chunk: never complete it.
            if (ex.body != null) {
                ex.body.abort();
                ex.body = null;
            }
            if (!ex.responded) {
                FullHttpResponse r = errors.response(OciError.REQUEST_INVALID, "malformed or truncated body", ex.head);
                r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                respond(ex, r);
            }
            ctx.close();
            return;
        }
        if (ex.body != null) {
            ex.body.content(content.content());
        } else {
            ex.discarded += content.content().readableBytes();
            if (ex.responded && ex.discarded > DISCARD_LIMIT) {
                ctx.close();
                return;
            }
        }
        if (content instanceof LastHttpContent) {
            ex.requestComplete = true;
            RequestBody body = ex.body;
            if (body != null) {
                body.end();
            }
            progressed(ex);
        }
    }

    /** Writes the response of {@code ex}, unless it is over or already answered. */
    void respond(Exchange ex, HttpResponse response) {
        if (ex != current || ex.responded || !ctx.channel().isActive()) {
            ReferenceCountUtil.release(response);
            return;
        }
        ex.responded = true;
        ex.body = null;
        ex.paused = false; // whatever is left of the body is discarded, never waited for
        addNamespace(ex, response);
        var future = ctx.writeAndFlush(response);
        if (HttpHeaderValues.CLOSE.contentEqualsIgnoreCase(response.headers().get(HttpHeaderNames.CONNECTION, ""))) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
        progressed(ex);
    }

    /** Writes headers and then {@code length} bytes of {@code file} from {@code start} (it takes the channel). */
    void respondFile(Exchange ex, HttpResponse head, FileChannel file, long start, long length) {
        respondFile(ex, head, file, start, length, () -> { });
    }

    /** As above; {@code onDone} runs once the body has been sent or given up (releases the blob's hold). */
    void respondFile(Exchange ex, HttpResponse head, FileChannel file, long start, long length, Runnable onDone) {
        if (ex != current || ex.responded || !ctx.channel().isActive()) {
            ReferenceCountUtil.release(head);
            closeQuietly(file);
            onDone.run();
            return;
        }
        ex.responded = true;
        ex.body = null;
        ex.paused = false;
        addNamespace(ex, head);
        ctx.write(head);
        try {
            BlobBodies.write(ctx, file, start, length).addListener((ChannelFutureListener) f -> {
                onDone.run();
                if (!f.isSuccess()) {
                    // Mid-download failure (client gone, disk error): the only honest signal is a cut.
                    log.debug("blob body write failed", f.cause());
                    f.channel().close();
                }
            });
        } catch (RuntimeException e) {
            onDone.run();
            log.warn("cannot send blob body", e);
            ctx.close();
        }
        progressed(ex);
    }

    /**
     * Writes headers, then bytes {@code start..start+length} of a blob still downloading, as they
     * arrive (it takes {@code file}). The exchange stays current until the body is over, so that
     * a pipelined request waits instead of interleaving its response.
     */
    void respondGrowing(Exchange ex, HttpResponse head, GrowingBlob fetch, FileChannel file, long start, long length,
                        Runnable onDone) {
        if (ex != current || ex.responded || !ctx.channel().isActive()) {
            ReferenceCountUtil.release(head);
            closeQuietly(file);
            onDone.run();
            return;
        }
        ex.responded = true;
        ex.body = null;
        ex.paused = false;
        ex.streaming = true;
        addNamespace(ex, head);
        ctx.writeAndFlush(head); // the client sees the response begin before its first byte arrived
        new GrowingBlobBody(ctx, fetch, file, start, length, () -> {
            ex.streaming = false;
            progressed(ex);
        }, onDone).start();
        progressed(ex);
    }

    /**
     * Continues {@code ex} on the event loop once {@code stage} completes: with its value, or
     * with the error response for its failure.
     */
    <T> void await(Exchange ex, CompletionStage<T> stage, Consumer<T> then) {
        var loop = ctx.executor();
        BiConsumer<T, Throwable> next = (value, failure) -> {
            if (failure != null) {
                fail(ex, failure);
                return;
            }
            try {
                then.accept(value);
            } catch (Throwable t) {
                fail(ex, t);
            }
        };
        if (loop.inEventLoop() && stage instanceof CompletableFuture<T> done && done.isDone()) {
            // A hit, known already: answered now, as a hosted request is, rather than by a task
            // that would write it only after the rest of this batch of reads (W2's p99).
            done.whenComplete(next);
            return;
        }
        stage.whenComplete((value, failure) -> runOn(loop, () -> next.accept(value, failure)));
    }

    private static void addNamespace(Exchange ex, HttpResponse response) {
        if (ex.namespace != null) {
            response.headers().set(Responses.OCI_NAMESPACE, ex.namespace);
        }
    }

    /** Answers {@code ex} with the error for {@code failure}. */
    void fail(Exchange ex, Throwable failure) {
        if (ex != current || ex.responded) {
            if (!(failure instanceof ocimirror.storage.oci.OciException)) {
                ErrorResponses.classify(failure); // logs it
            }
            return;
        }
        respond(ex, errors.response(failure, ex.head));
    }

    /** An upload's writes fell behind (or caught up): stop (or resume) reading. */
    void pause(Exchange ex, boolean paused) {
        if (ex == current && ex.paused != paused) {
            ex.paused = paused;
            updateAutoRead();
        }
    }

    ErrorResponses errors() {
        return errors;
    }

    ChannelHandlerContext context() {
        return ctx;
    }

    /** Runs {@code work} on the storage executor and answers with its result on the event loop. */
    /** {@code work} on the storage executor; a saturated executor fails the future (a 503). */
    <T> CompletableFuture<T> onStorage(Callable<T> work) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return work.call();
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }, storage);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    <T> void async(Exchange ex, Callable<T> work, Function<T, HttpResponse> toResponse) {
        var loop = ctx.executor();
        try {
            storage.execute(() -> {
                T result;
                try {
                    result = work.call();
                } catch (Throwable t) {
                    runOn(loop, () -> fail(ex, t));
                    return;
                }
                runOn(loop, () -> {
                    HttpResponse response;
                    try {
                        response = toResponse.apply(result);
                    } catch (Throwable t) {
                        fail(ex, t);
                        return;
                    }
                    respond(ex, response);
                });
            });
        } catch (RejectedExecutionException e) {
            fail(ex, e);
        }
    }

    private static void runOn(io.netty.util.concurrent.EventExecutor loop, Runnable r) {
        try {
            loop.execute(r);
        } catch (RejectedExecutionException e) {
            log.debug("event loop gone before a storage task finished", e);
        }
    }

    /** The exchange ends once it is answered and its body is in; reading resumes as fits. */
    private void progressed(Exchange ex) {
        if (ex == current && ex.responded && ex.requestComplete && !ex.streaming) {
            current = null;
        }
        updateAutoRead();
    }

    private void updateAutoRead() {
        Exchange ex = current;
        boolean stop = ex != null && (ex.paused || ex.streaming || ex.requestComplete && !ex.responded);
        if (stop) {
            ex.readingStopped = true;
        }
        ctx.channel().config().setAutoRead(!stop);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        Exchange ex = current;
        current = null;
        if (ex != null) {
            ex.over = true;
            if (ex.body != null) {
                ex.body.abort();
                ex.body = null;
            }
        }
        super.channelInactive(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent e && e.state() == IdleState.READER_IDLE) {
            readerIdle();
            return;
        }
        if (evt instanceof IdleStateEvent) {
            // A request waiting on storage is not idle; only a quiet connection is closed. So is
            // one whose streamed blob body has not got a write through for the whole idle time:
            // a client that stopped reading (a stalled download fails sooner, by its own timeout).
            if (current == null || current.streaming) {
                ctx.close();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    /**
     * Nothing was read for {@code limits.requestBodyTimeout}: if a request body is expected and
     * reading was never stopped by this side during that time, the body stalled. It is given up as
     * a disconnect would give it up (an upload's session kept with what was written, or discarded
     * if this request opened it), answered {@code 408} unless a response has begun, and the
     * connection is closed. Without a body expected, the quiet is the idle timeout's business.
     */
    private void readerIdle() {
        Exchange ex = current;
        if (ex == null || ex.requestComplete) {
            return;
        }
        boolean stopped = ex.readingStopped || !ctx.channel().config().isAutoRead();
        ex.readingStopped = !ctx.channel().config().isAutoRead();
        if (stopped) {
            return; // the quiet may be ours (storage behind, a response pending): wait a whole period more
        }
        log.debug("request body from {} stalled; closing", ctx.channel().remoteAddress());
        if (metrics != null) {
            metrics.bodyTimeout();
        }
        if (ex.body != null) {
            ex.body.abort();
            ex.body = null;
        }
        if (!ex.responded) {
            FullHttpResponse r = errors.response(OciError.REQUEST_TIMEOUT, "the request body stalled", ex.head);
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            respond(ex, r);
        }
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A TLS handshake a client gave up on (it does not trust the CA, or sent no certificate
        // under mTLS) arrives wrapped by the SslHandler: a client's problem, not the server's.
        if (cause instanceof IOException || cause instanceof DecoderException && cause.getCause() instanceof SSLException) {
            log.debug("connection error from {}: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("unexpected pipeline error", cause);
        }
        ctx.close();
    }

    private static void closeQuietly(FileChannel file) {
        try {
            file.close();
        } catch (IOException e) {
            log.debug("closing blob file", e);
        }
    }
}
