package ocimirror.server.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import javax.net.ssl.SSLException;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.UpstreamException.Kind;

/**
 * Keep-alive connection pools, one per origin (the upstream, its token realm, the hosts it
 * redirects to), and single HTTP exchanges over them. No auth, redirects or retries here.
 */
final class HttpTransport implements AutoCloseable {

    static final String EXCHANGE = "exchange";
    static final String GUARD = "idle-guard";
    private static final AttributeKey<Boolean> USED = AttributeKey.valueOf(HttpTransport.class, "used");

    private final Bootstrap bootstrap;
    private final SslContext ssl;
    private final UpstreamConfig.Timeouts timeouts;
    private final int maxConnections;
    private final TokenBucket bandwidth;
    private final ChannelGroup channels;
    private final OffloadedDnsResolverGroup resolver;
    private final ConcurrentMap<Origin, FixedChannelPool> pools = new ConcurrentHashMap<>();
    private volatile boolean closed;

    HttpTransport(String name, EventLoopGroup group, SslContext ssl, UpstreamConfig.Timeouts timeouts, int maxConnections) {
        this(name, group, ssl, timeouts, maxConnections, null);
    }

    /** @param bandwidth paces every 2xx body streamed to a target (blob downloads); null: no limit */
    HttpTransport(String name, EventLoopGroup group, SslContext ssl, UpstreamConfig.Timeouts timeouts, int maxConnections,
                  TokenBucket bandwidth) {
        this.bandwidth = bandwidth;
        this.ssl = Objects.requireNonNull(ssl, "ssl");
        this.timeouts = Objects.requireNonNull(timeouts, "timeouts");
        this.maxConnections = maxConnections;
        this.channels = new DefaultChannelGroup("upstream-" + name, group.next());
        this.resolver = new OffloadedDnsResolverGroup(name);
        this.bootstrap = new Bootstrap()
                .group(group)
                .resolver(resolver)
                .channel(socketChannelClass(group))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeouts.connect().toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true);
    }

    /** The socket channel type that matches the group's transport. */
    static Class<? extends SocketChannel> socketChannelClass(EventLoopGroup group) {
        if (group instanceof IoEventLoopGroup io && Epoll.isAvailable() && io.isIoType(EpollIoHandler.class)) {
            return EpollSocketChannel.class;
        }
        return NioSocketChannel.class;
    }

    /**
     * Sends {@code request} to {@code origin} and completes when the response has been read
     * to its end (streamed into {@code target} for a 2xx GET when it is not null, aggregated
     * up to {@code aggregateLimit} otherwise). Fails with an {@link UpstreamException}, a
     * {@link StaleConnectionException}, or the target's own failure.
     */
    CompletableFuture<RawResponse> send(Origin origin, HttpRequest request, Exchange.BodyTarget target, int aggregateLimit) {
        CompletableFuture<RawResponse> result = new CompletableFuture<>();
        if (closed) {
            ReferenceCountUtil.release(request);
            result.completeExceptionally(new UpstreamException(Kind.UNREACHABLE, "the upstream client is closed"));
            return result;
        }
        FixedChannelPool pool = pools.computeIfAbsent(origin, this::newPool);
        pool.acquire().addListener((Future<Channel> f) -> {
            if (!f.isSuccess()) {
                ReferenceCountUtil.release(request);
                result.completeExceptionally(new UpstreamException(Kind.UNREACHABLE,
                        "cannot connect to " + origin + ": " + describe(f.cause()), f.cause()));
                return;
            }
            Channel ch = f.getNow();
            boolean reused = ch.attr(USED).getAndSet(Boolean.TRUE) != null;
            SslHandler tls = ch.pipeline().get(SslHandler.class);
            Future<Channel> handshake = tls == null ? ch.eventLoop().newSucceededFuture(ch) : tls.handshakeFuture();
            handshake.addListener(h -> {
                if (!h.isSuccess()) {
                    ReferenceCountUtil.release(request);
                    ch.close();
                    pool.release(ch);
                    Throwable cause = h.cause();
                    result.completeExceptionally(new UpstreamException(Kind.UNREACHABLE,
                            "TLS handshake with " + origin + " failed: " + describe(cause), cause));
                    return;
                }
                long firstByte = timeouts.firstByte().toNanos();
                long idle = timeouts.idle().toNanos();
                ch.eventLoop().execute(() -> new Exchange(ch, origin, reused, request, firstByte, idle, target,
                        aggregateLimit, pool::release, result, bandwidth).start());
            });
        });
        return result;
    }

    private FixedChannelPool newPool(Origin origin) {
        Bootstrap b = bootstrap.clone().remoteAddress(InetSocketAddress.createUnresolved(origin.connectHost(), origin.port()));
        return new FixedChannelPool(b, new PoolHandler(origin), ChannelHealthChecker.ACTIVE, null, -1,
                maxConnections, Integer.MAX_VALUE, true, true);
    }

    /** Closes every connection; does not wait, so it is safe to call from an event loop. */
    @Override
    public void close() {
        closed = true;
        pools.values().forEach(FixedChannelPool::closeAsync);
        pools.clear();
        channels.close();
        resolver.close();
    }

    private final class PoolHandler extends AbstractChannelPoolHandler {
        private final Origin origin;

        PoolHandler(Origin origin) {
            this.origin = origin;
        }

        @Override
        public void channelCreated(Channel ch) {
            channels.add(ch);
            if (origin.tls()) {
                SslHandler tls = ssl.newHandler(ch.alloc(), origin.connectHost(), origin.port());
                tls.setHandshakeTimeoutMillis(timeouts.connect().toMillis());
                ch.pipeline().addLast("tls", tls);
            }
            // 64 KiB chunks: one sink call per socket read rather than per 8 KiB.
            ch.pipeline().addLast("http", new HttpClientCodec(
                    new HttpDecoderConfig().setMaxHeaderSize(64 * 1024).setMaxChunkSize(64 * 1024), false, false));
            ch.pipeline().addLast(GUARD, IdleGuard.INSTANCE);
        }

        @Override
        public void channelReleased(Channel ch) {
            // Idle in the pool: read again so that a close by the upstream is noticed.
            ch.config().setAutoRead(true);
        }
    }

    /** On an idle pooled connection nothing should arrive; anything that does makes it unusable. */
    @ChannelHandler.Sharable
    static final class IdleGuard extends ChannelInboundHandlerAdapter {
        static final IdleGuard INSTANCE = new IdleGuard();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            ctx.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    static String describe(Throwable t) {
        if (t == null) {
            return "unknown error";
        }
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c && !(c instanceof SSLException)) {
            c = c.getCause();
        }
        String m = c.getMessage();
        return c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
}
