package ocimirror.server.pipeline;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import ocimirror.config.MirrorConfig;
import ocimirror.server.access.AccessLog;
import ocimirror.server.access.AccessLogHandler;
import ocimirror.server.auth.ClientAuthHandler;
import ocimirror.server.auth.DelegatedRequests;
import ocimirror.server.auth.HtpasswdAuthenticator;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.drain.ConnectionDrain;
import ocimirror.server.http.ContinueHandler;
import ocimirror.server.http.ErrorResponses;
import ocimirror.server.http.RegistryHandler;
import ocimirror.server.http.RequestHeadTimeout;
import ocimirror.server.metrics.Observability;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.OpsPaths;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.server.tls.ServerTls;

/**
 * Pipeline assembly only: TLS (when configured; each connection gets the context current when it
 * is accepted, so a rotated certificate reaches new connections only; the SslHandler's own 10 s
 * handshake timeout applies, and the head timeout's clock, which starts at accept, bounds it too) →
 * head timeout, bytes side (a head's first byte) → HTTP/1.1 codec (request line and headers bounded
 * by {@code limits.maxHeaderBytes}; a longer one reaches the registry handler as a failed request
 * and is answered 431) → head timeout, messages side ({@code limits.requestHeadTimeout}: a head not
 * whole in time is answered 408) → keep-alive → chunked writer (TLS only: blob bodies under TLS) →
 * idle timeout (all idle: {@code limits.idleTimeoutSeconds}; reader idle:
 * {@code limits.requestBodyTimeout}, which the registry handler applies to request bodies) → flow control (holds pipelined requests while one is being answered)
 * → access log (when {@code ops} is given: sees every request and response after flow control,
 * those refused by authentication included) → client authentication (when configured; after flow
 * control, so that its answers cannot overtake the registry's on pipelined requests; the probes,
 * and {@code /metrics} when public, pass without credentials) → 100-continue (after authentication, so that a
 * refused upload is never invited to send its body) → the registry handler, one per connection.
 */
public final class MirrorChannelInitializer extends ChannelInitializer<SocketChannel> {
    /** Body chunks of up to this size reach the handler: fewer, larger writes to the blob file. */
    private static final int MAX_CHUNK = 64 * 1024;

    private final RegistryService service;
    private final UpstreamRouter router;
    private final PullThroughService pullThrough;
    private final Executor storage;
    private final MirrorConfig.Limits limits;
    private final ServerTls tls;
    private final HtpasswdAuthenticator auth;
    private final Executor hashing;
    private final Observability ops;
    private final ConnectionDrain drain;
    private final UpstreamAuthorization authorization;
    private final AccessLog accessLog = new AccessLog();
    private final OciRouteParser parser = new OciRouteParser();
    private final ErrorResponses errors = new ErrorResponses();

    /** A plain registry over plain HTTP without client authentication: every repository hosted. */
    public MirrorChannelInitializer(RegistryService service, Executor storage, MirrorConfig.Limits limits) {
        this(service, new UpstreamRouter(List.of(), List.of()), null, storage, limits, null, null, null);
    }

    /**
     * @param pullThrough serves proxied repositories; null only if {@code router} proxies nothing
     * @param tls         the server's TLS, or null for plain HTTP
     * @param auth        client authentication, or null when clients are not authenticated
     * @param hashing     where password checks run (never an event loop); required with {@code auth}
     */
    public MirrorChannelInitializer(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                                    Executor storage, MirrorConfig.Limits limits, ServerTls tls,
                                    HtpasswdAuthenticator auth, Executor hashing) {
        this(service, router, pullThrough, storage, limits, tls, auth, hashing, null);
    }

    /** @param ops metrics, readiness and the access log; null: none of them (handler tests) */
    public MirrorChannelInitializer(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                                    Executor storage, MirrorConfig.Limits limits, ServerTls tls,
                                    HtpasswdAuthenticator auth, Executor hashing, Observability ops) {
        this(service, router, pullThrough, storage, limits, tls, auth, hashing, ops, null);
    }

    /** @param drain the server's connections and exchanges in flight, for a graceful stop; null: not tracked */
    public MirrorChannelInitializer(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                                    Executor storage, MirrorConfig.Limits limits, ServerTls tls,
                                    HtpasswdAuthenticator auth, Executor hashing, Observability ops,
                                    ConnectionDrain drain) {
        this(service, router, pullThrough, storage, limits, tls, auth, hashing, ops, drain, UpstreamAuthorization.none());
    }

    /**
     * @param authorization decides for the upstreams with {@code authorization: upstream}; their
     *                      reads pass the client authentication unchecked (see {@link DelegatedRequests})
     */
    public MirrorChannelInitializer(RegistryService service, UpstreamRouter router, PullThroughService pullThrough,
                                    Executor storage, MirrorConfig.Limits limits, ServerTls tls,
                                    HtpasswdAuthenticator auth, Executor hashing, Observability ops,
                                    ConnectionDrain drain, UpstreamAuthorization authorization) {
        this.authorization = requireNonNull(authorization, "authorization");
        this.service = requireNonNull(service, "service");
        this.router = requireNonNull(router, "router");
        this.pullThrough = pullThrough;
        this.storage = requireNonNull(storage, "storage");
        this.limits = requireNonNull(limits, "limits");
        this.tls = tls;
        this.auth = auth;
        this.hashing = auth == null ? hashing : requireNonNull(hashing, "hashing");
        this.ops = ops;
        this.drain = drain;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ChannelPipeline p = ch.pipeline();
        if (tls != null) {
            p.addLast("tls", tls.newHandler(ch.alloc()));
        }
        RequestHeadTimeout headTimeout = new RequestHeadTimeout(limits.requestHeadTimeout(), errors,
                ops == null ? null : ops.metrics());
        p.addLast("head-bytes", headTimeout.bytes());
        p.addLast("http", new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxHeaderBytes())
                .setMaxHeaderSize(limits.maxHeaderBytes())
                .setMaxChunkSize(MAX_CHUNK)));
        p.addLast("head-timeout", headTimeout.messages());
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        if (drain != null) {
            p.addLast("drain", drain.newHandler());
        }
        if (tls != null) {
            // Only TLS sends blob bodies as chunked input (BlobBodies); in plaintext the handler
            // would queue and re-walk every write of every response for nothing.
            p.addLast("chunked", new ChunkedWriteHandler());
        }
        // Reader idle: the registry handler's body timeout (a request body with no read for that
        // long while it is being read); all idle: the connection's idle timeout.
        p.addLast("idle", new IdleStateHandler(limits.requestBodyTimeout().toNanos(), 0,
                TimeUnit.SECONDS.toNanos(limits.idleTimeoutSeconds()), TimeUnit.NANOSECONDS));
        p.addLast("flow", new FlowControlHandler());
        if (ops != null) {
            p.addLast("access", new AccessLogHandler(ops.metrics(), accessLog, ops.audit(), parser));
        }
        if (auth != null) {
            boolean publicMetrics = ops != null && ops.publicMetrics();
            p.addLast("auth", new ClientAuthHandler(auth, hashing, errors,
                    uri -> OpsPaths.isProbe(uri) || publicMetrics && OpsPaths.isMetrics(uri),
                    new DelegatedRequests(parser, router, authorization)));
        }
        p.addLast("continue", new ContinueHandler());
        p.addLast("registry", new RegistryHandler(service, router, pullThrough, storage, parser, errors, ops,
                authorization));
    }
}
