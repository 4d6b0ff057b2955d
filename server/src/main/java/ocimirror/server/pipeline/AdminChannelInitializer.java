package ocimirror.server.pipeline;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.timeout.IdleStateHandler;
import ocimirror.server.http.AdminHandler;
import ocimirror.server.http.ErrorResponses;
import ocimirror.server.http.OpsEndpoints;
import ocimirror.server.route.OciRouteParser;

/**
 * The admin listener ({@code metrics.adminListen}): plain HTTP, no client authentication, only
 * {@code /metrics}, {@code /healthz} and {@code /readyz}. Meant for a loopback or cluster-internal
 * address, where Prometheus and the kubelet reach it without the main listener's TLS and credentials.
 * Pipeline: codec → keep-alive → idle timeout (60 s) → aggregator (small: these requests have no body) → admin handler.
 */
public final class AdminChannelInitializer extends ChannelInitializer<SocketChannel> {
    private static final int MAX_REQUEST = 16 * 1024;
    private static final int IDLE_SECONDS = 60;

    private final OpsEndpoints ops;
    private final OciRouteParser parser = new OciRouteParser();
    private final ErrorResponses errors = new ErrorResponses();

    public AdminChannelInitializer(OpsEndpoints ops) {
        this.ops = requireNonNull(ops, "ops");
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ChannelPipeline p = ch.pipeline();
        p.addLast("http", new HttpServerCodec());
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("idle", new IdleStateHandler(0, 0, IDLE_SECONDS) {
            @Override
            protected void channelIdle(io.netty.channel.ChannelHandlerContext ctx,
                                       io.netty.handler.timeout.IdleStateEvent evt) {
                ctx.close();
            }
        });
        p.addLast("aggregator", new HttpObjectAggregator(MAX_REQUEST));
        p.addLast("admin", new AdminHandler(ops, parser, errors));
    }
}
