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
import ocimirror.server.http.PinEndpoints;
import ocimirror.server.route.OciRouteParser;

/**
 * The admin listener ({@code metrics.adminListen}): plain HTTP, no client authentication, only
 * {@code /metrics}, {@code /healthz}, {@code /readyz} and the admin API ({@code /admin/pins}).
 * Meant for a loopback or cluster-internal address, where Prometheus and the kubelet reach it
 * without the main listener's TLS and credentials; whoever reaches it can pin and unpin.
 * Pipeline: codec → keep-alive → idle timeout (60 s) → aggregator (small: these requests have no body) → admin handler.
 */
public final class AdminChannelInitializer extends ChannelInitializer<SocketChannel> {
    private static final int MAX_REQUEST = 16 * 1024;
    private static final int IDLE_SECONDS = 60;

    private final OpsEndpoints ops;
    private final PinEndpoints pins;
    private final OciRouteParser parser = OciRouteParser.admin();
    private final ErrorResponses errors = new ErrorResponses();

    /** @param pins the admin API's pins, or null (404 then) */
    public AdminChannelInitializer(OpsEndpoints ops, PinEndpoints pins) {
        this.ops = requireNonNull(ops, "ops");
        this.pins = pins;
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
        p.addLast("admin", new AdminHandler(ops, pins, parser, errors));
    }
}
