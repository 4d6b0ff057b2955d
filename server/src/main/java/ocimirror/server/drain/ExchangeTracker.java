package ocimirror.server.drain;

import static java.util.Objects.requireNonNull;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * Counts one connection's exchanges in flight for its {@link ConnectionDrain}: a request starts
 * one; the completion (or failure) of the last write of a final response, or the connection's
 * close, ends it. {@code 1xx} responses ({@code 100 Continue}) are not final and end nothing.
 * Sits between the keep-alive handler and the chunked writer, so that it sees every part of a
 * response as the codec will (the chunked writer's last chunk included), and a
 * {@code Connection: close} it sets is what the keep-alive handler acts on. While draining, the
 * final response to the last request received says {@code Connection: close}, and the connection
 * is closed as soon as it has nothing in flight. Event loop only, except through {@link ConnectionDrain}.
 */
final class ExchangeTracker extends ChannelDuplexHandler {
    private final ConnectionDrain drain;
    /** Requests received on this connection whose responses are not yet written (pipelining: several). */
    private int pending;
    /** A final response's head went out and its last part has not yet. */
    private boolean answering;
    private boolean registered;

    ExchangeTracker(ConnectionDrain drain) {
        this.drain = requireNonNull(drain, "drain");
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            opened(ctx.channel());
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        opened(ctx.channel());
        super.channelActive(ctx);
    }

    private void opened(Channel ch) {
        if (!registered) {
            registered = true;
            drain.opened(ch, this);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest) {
            pending++;
            drain.started();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response && response.status().codeClass() != HttpStatusClass.INFORMATIONAL) {
            answering = true;
            // Not while pipelined requests wait: the keep-alive handler would close before answering them.
            if (drain.draining() && pending <= 1) {
                HttpUtil.setKeepAlive(response, false);
            }
        }
        if (msg instanceof LastHttpContent && answering) {
            answering = false;
            promise = promise.unvoid();
            promise.addListener((ChannelFutureListener) f -> answered(f.channel()));
        }
        super.write(ctx, msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (pending > 0) {
            drain.ended(pending); // cut: the client went away, or the drain's deadline passed
            pending = 0;
        }
        answering = false;
        super.channelInactive(ctx);
    }

    private void answered(Channel ch) {
        if (pending == 0) {
            return; // the connection closed before the write completed, and ended it already
        }
        pending--;
        drain.ended(1);
        closeIfIdle(ch);
    }

    /** While draining, closes the connection if nothing is in flight on it. */
    void closeIfIdle(Channel ch) {
        if (pending == 0 && drain.draining() && ch.isOpen()) {
            ch.close();
        }
    }
}
