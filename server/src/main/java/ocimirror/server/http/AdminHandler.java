package ocimirror.server.http;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.storage.oci.OciError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener's only handler: {@link OpsEndpoints}, {@link PinEndpoints} (when given) and
 * 404 for everything else, behind an
 * aggregator (requests here have no body worth streaming). One request at a time per connection:
 * reading pauses until the response is written.
 */
public final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

    private final OpsEndpoints ops;
    private final PinEndpoints pins;
    private final OciRouteParser parser;
    private final ErrorResponses errors;

    /**
     * @param pins   the admin API's pins, or null (404 then)
     * @param parser {@link OciRouteParser#admin()}: the main listener's knows no admin paths
     */
    public AdminHandler(OpsEndpoints ops, PinEndpoints pins, OciRouteParser parser, ErrorResponses errors) {
        this.ops = requireNonNull(ops, "ops");
        this.pins = pins;
        this.parser = requireNonNull(parser, "parser");
        this.errors = requireNonNull(errors, "errors");
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        boolean head = HttpMethod.HEAD.equals(request.method());
        if (request.decoderResult().isFailure()) {
            FullHttpResponse r = errors.response(OciError.REQUEST_INVALID, null, head);
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.channel().config().setAutoRead(false);
        var loop = ctx.executor();
        var answer = answer(request, fromLoopback(ctx));
        answer.whenComplete((response, failure) -> {
            try {
                loop.execute(() -> {
                    FullHttpResponse r = failure == null ? response : errors.response(failure, head);
                    if (!ctx.channel().isActive()) {
                        ReferenceCountUtil.release(r);
                        return;
                    }
                    ctx.writeAndFlush(r).addListener((ChannelFutureListener) f -> {
                        if (f.isSuccess()) {
                            f.channel().config().setAutoRead(true);
                        } else {
                            f.channel().close();
                        }
                    });
                });
            } catch (RejectedExecutionException e) {
                ReferenceCountUtil.release(response);
            }
        });
    }

    /**
     * Whether the client is on this host: the admin listener has no credentials, so pins change
     * only from here (a shell on the node or in the pod, {@code kubectl exec} or
     * {@code kubectl port-forward}); reads are open to whoever reaches the listener (Prometheus).
     */
    private static boolean fromLoopback(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a && a.getAddress() != null
                && a.getAddress().isLoopbackAddress();
    }

    private CompletableFuture<FullHttpResponse> answer(FullHttpRequest request, boolean mayChange) {
        try {
            OciRoute route = parser.parse(request.uri());
            if (OpsEndpoints.handles(route)) {
                return ops.answer(route, request.method());
            }
            if (pins != null && PinEndpoints.handles(route)) {
                return pins.answer(route, request.method(), mayChange);
            }
            return CompletableFuture.failedFuture(OciError.NOT_FOUND.exception(
                    "the admin listener serves /metrics, /healthz, /readyz and /admin/pins only"));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("admin connection error from {}: {}", ctx.channel().remoteAddress(), cause.toString());
        } else {
            log.warn("unexpected admin pipeline error", cause);
        }
        ctx.close();
    }
}
