package ocimirror.server.access;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RouteKind;

/**
 * Watches each request and its response from just behind the flow-control handler, so that it
 * sees every request, those refused by client authentication included: a {@link RequestRecord} is
 * made when a request arrives (its id, from a valid {@code X-Request-Id} or random, goes back in the
 * response's {@code X-Request-Id}); the response's status and the bytes of each body write that
 * completes are added to it; when the last part of the response is written, the record goes to the
 * access log and the request metrics. Records still open when the connection closes are logged as
 * aborted (status 499 if nothing was sent). Also counts connections and TLS handshakes (the
 * {@code SslHandler}'s completion event passes through here). One instance per connection, event loop only.
 *
 * <p>Responses are matched to requests in order, as HTTP/1.1 requires; {@code 1xx} responses
 * ({@code 100 Continue}) are not final and are passed by.
 */
public final class AccessLogHandler extends ChannelDuplexHandler {
    public static final String REQUEST_ID = "X-Request-Id";
    private static final String DOCKER_CONTENT_DIGEST = "Docker-Content-Digest";
    private static final Pattern VALID_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private final MirrorMetrics metrics;
    private final AccessLog log;
    private final AuditLog audit;
    private final OciRouteParser parser;
    /** Requests without a finished response, oldest first. */
    private final ArrayDeque<RequestRecord> pending = new ArrayDeque<>();
    /** The record whose response is being written (head sent, last part not yet). */
    private RequestRecord writing;
    private String client = "-";
    private boolean counted;

    public AccessLogHandler(MirrorMetrics metrics, AccessLog log, OciRouteParser parser) {
        this(metrics, log, null, parser);
    }

    /** @param audit the audit log of pulls, or null (off) */
    public AccessLogHandler(MirrorMetrics metrics, AccessLog log, AuditLog audit, OciRouteParser parser) {
        this.metrics = requireNonNull(metrics, "metrics");
        this.log = requireNonNull(log, "log");
        this.audit = audit;
        this.parser = requireNonNull(parser, "parser");
    }

    /**
     * The record of {@code request} on this channel, or a detached one if there is no access log
     * handler in the pipeline (handler tests) or it does not know the request.
     */
    public static RequestRecord recordOf(ChannelHandlerContext ctx, HttpRequest request) {
        AccessLogHandler h = ctx.pipeline().get(AccessLogHandler.class);
        if (h != null) {
            for (RequestRecord r : h.pending) {
                if (r.request == request) {
                    return r;
                }
            }
        }
        return RequestRecord.detached(request);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            opened(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        opened(ctx);
        super.channelActive(ctx);
    }

    private void opened(ChannelHandlerContext ctx) {
        if (!counted) {
            counted = true;
            metrics.connections(1);
            client = address(ctx.channel().remoteAddress());
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest request) {
            String given = request.headers().get(REQUEST_ID);
            String id = given != null && VALID_ID.matcher(given).matches() ? given : newId();
            pending.add(new RequestRecord(request, System.nanoTime(), id, client));
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            metrics.tlsHandshake(e.isSuccess());
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response && response.status().codeClass() != HttpStatusClass.INFORMATIONAL) {
            RequestRecord r = firstUnanswered();
            if (r != null) {
                r.headSent = true;
                r.status = response.status().code();
                response.headers().set(REQUEST_ID, r.id);
                if (audit != null) {
                    r.digest = response.headers().get(DOCKER_CONTENT_DIGEST);
                }
                writing = r;
            }
        }
        RequestRecord r = writing;
        if (r != null) {
            long size = size(msg);
            boolean last = msg instanceof LastHttpContent || msg instanceof HttpChunkedInput;
            if (last) {
                writing = null;
            }
            if (size > 0 || last) {
                promise = promise.unvoid();
                promise.addListener((ChannelFutureListener) f -> {
                    if (f.isSuccess()) {
                        r.bytes += size;
                    }
                    if (last) {
                        finish(r, !f.isSuccess());
                    }
                });
            }
        }
        super.write(ctx, msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (counted) {
            counted = false;
            metrics.connections(-1);
        }
        writing = null;
        for (RequestRecord r : List.copyOf(pending)) {
            if (!r.headSent) {
                r.status = 499; // nginx's "client closed request": no response was sent
            }
            finish(r, true);
        }
        super.channelInactive(ctx);
    }

    private RequestRecord firstUnanswered() {
        for (RequestRecord r : pending) {
            if (!r.headSent) {
                return r;
            }
        }
        return null;
    }

    private void finish(RequestRecord r, boolean aborted) {
        if (!pending.remove(r)) {
            return; // already logged (the close raced the last write's completion)
        }
        long nanos = System.nanoTime() - r.startNanos;
        if (r.route() == null) {
            parse(r); // answered before the registry handler saw it (authentication)
        }
        metrics.request(r.route(), r.method, r.status, r.bytes, nanos);
        if (r.cache() != null) {
            metrics.cacheRequest(r.route(), r.cache());
        }
        log.log(r, nanos, aborted);
        if (audit != null && audit.wants(r)) {
            audit.log(r, nanos, aborted);
        }
    }

    private void parse(RequestRecord r) {
        if (r.request.decoderResult().isFailure()) {
            r.route(RouteKind.INVALID);
            return;
        }
        try {
            r.parsed(parser.parseRequest(r.request.uri()));
        } catch (RuntimeException e) {
            r.route(RouteKind.INVALID);
        }
    }

    private static long size(Object msg) {
        if (msg instanceof HttpContent c) {
            return c.content().readableBytes();
        } else if (msg instanceof ByteBuf b) {
            return b.readableBytes();
        } else if (msg instanceof FileRegion f) {
            return f.count();
        } else if (msg instanceof HttpChunkedInput in) {
            return Math.max(0, in.length());
        }
        return 0;
    }

    /** Twelve hex digits (48 random bits); by hand, as String.format costs more than the rest of the line. */
    static String newId() {
        long bits = ThreadLocalRandom.current().nextLong();
        char[] id = new char[12];
        for (int i = 11; i >= 0; i--, bits >>>= 4) {
            id[i] = HEX[(int) (bits & 0xf)];
        }
        return new String(id);
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static String address(SocketAddress remote) {
        if (remote instanceof InetSocketAddress inet) {
            String host = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return String.valueOf(remote);
    }
}
