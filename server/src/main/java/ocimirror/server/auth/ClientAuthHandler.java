package ocimirror.server.auth;

import static java.util.Objects.requireNonNull;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Predicate;
import ocimirror.server.access.AccessLogHandler;
import ocimirror.server.auth.HtpasswdAuthenticator.Decision;
import ocimirror.server.http.ErrorResponses;
import ocimirror.storage.oci.OciError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client authentication in the pipeline, one instance per connection, right before the registry
 * handler (after the {@code FlowControlHandler}, so a request reaches it only once the previous
 * one is answered, and its own answers cannot overtake the registry's).
 *
 * <p>Each request is decided by {@link HtpasswdAuthenticator}; push means POST, PUT, PATCH or
 * DELETE. Allowed requests and their bodies pass on untouched. Refused ones are answered here with
 * the OCI error body from {@link ErrorResponses}: 401 {@code UNAUTHORIZED} with
 * {@code WWW-Authenticate} (every request without credentials, {@code /v2/} included, so that
 * clients send theirs), 403 {@code DENIED}, 429 {@code TOOMANYREQUESTS} with {@code Retry-After};
 * their bodies are dropped, up to {@link #DISCARD_LIMIT} bytes, past which the connection is closed.
 *
 * <p>bcrypt never runs on the event loop: when a request needs a password check, reading stops
 * ({@code autoRead} off), the check runs on the {@code hashing} executor, and messages already on
 * their way are held until the verdict; then they are delivered in order, as the channel's reading
 * state allows (the registry handler turns reading off while it answers).
 *
 * <p>GET and HEAD of the targets {@code open} accepts pass without credentials: the health probes
 * and, when public, {@code /metrics} ({@link ocimirror.server.route.OpsPaths}).
 *
 * <p>The Authorization header is not removed: nothing in the mirror forwards client headers, since
 * the upstream client builds its requests from scratch with the mirror's own credentials. The one
 * reader of it downstream is the check of an upstream with {@code authorization: upstream}
 * ({@link UpstreamAuthorization}), whose requests pass here unchecked ({@link DelegatedRequests}).
 */
public final class ClientAuthHandler extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(ClientAuthHandler.class);
    static final long DISCARD_LIMIT = 1 << 20;
    private static final Set<HttpMethod> PUSH = Set.of(HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE);

    private final HtpasswdAuthenticator authenticator;
    private final Executor hashing;
    private final ErrorResponses errors;
    private final Predicate<String> open;
    private final Predicate<HttpRequest> delegated;

    /** Messages that arrived while a check ran, or that the channel did not want yet. */
    private final ArrayDeque<Object> held = new ArrayDeque<>();
    /** The request whose password check is running; null when none. */
    private HttpRequest verifying;
    /** The body of a refused request is being dropped. */
    private boolean discarding;
    private long discarded;
    private boolean closed;

    /**
     * @param hashing where password checks run (a small bounded pool, never an event loop); a
     *                rejected task is answered 503
     */
    public ClientAuthHandler(HtpasswdAuthenticator authenticator, Executor hashing, ErrorResponses errors) {
        this(authenticator, hashing, errors, uri -> false);
    }

    /** @param open the raw request targets that GET and HEAD may read without credentials */
    public ClientAuthHandler(HtpasswdAuthenticator authenticator, Executor hashing, ErrorResponses errors,
                             Predicate<String> open) {
        this(authenticator, hashing, errors, open, request -> false);
    }

    /**
     * @param delegated the GET and HEAD requests another authority decides (see
     *                  {@link DelegatedRequests}): passed on unchecked, with their credentials
     */
    public ClientAuthHandler(HtpasswdAuthenticator authenticator, Executor hashing, ErrorResponses errors,
                             Predicate<String> open, Predicate<HttpRequest> delegated) {
        this.delegated = requireNonNull(delegated, "delegated");
        this.authenticator = requireNonNull(authenticator, "authenticator");
        this.hashing = requireNonNull(hashing, "hashing");
        this.errors = requireNonNull(errors, "errors");
        this.open = requireNonNull(open, "open");
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (verifying != null || !held.isEmpty()) {
            held.add(msg);
            return;
        }
        handle(ctx, msg);
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (verifying == null && !held.isEmpty()) {
            drain(ctx, true);
            if (!held.isEmpty() || verifying != null || !ctx.channel().config().isAutoRead()) {
                return;
            }
        }
        ctx.read();
    }

    /** Delivers held messages: at least one when {@code owed} (a read was asked for), more while reading is on. */
    private void drain(ChannelHandlerContext ctx, boolean owed) {
        boolean first = owed;
        while (verifying == null && !held.isEmpty() && (first || ctx.channel().config().isAutoRead())) {
            first = false;
            handle(ctx, held.poll());
        }
    }

    private void handle(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request) {
            onRequest(ctx, request);
        } else if (msg instanceof HttpContent content && discarding) {
            discarded += content.content().readableBytes();
            boolean last = content instanceof LastHttpContent;
            content.release();
            if (last) {
                discarding = false;
            } else if (discarded > DISCARD_LIMIT) {
                ctx.close();
            }
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    private void onRequest(ChannelHandlerContext ctx, HttpRequest request) {
        discarding = false;
        discarded = 0;
        if (request.decoderResult().isFailure()) {
            ctx.fireChannelRead(request); // the registry handler answers 400 or 431 and closes
            return;
        }
        if ((HttpMethod.GET.equals(request.method()) || HttpMethod.HEAD.equals(request.method()))
                && (open.test(request.uri()) || delegated.test(request))) {
            ctx.fireChannelRead(request);
            return;
        }
        String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        String address = address(ctx.channel().remoteAddress());
        boolean push = PUSH.contains(request.method());
        var quick = authenticator.authorizeWithoutHashing(header, address, push);
        if (quick.isPresent()) {
            apply(ctx, request, quick.get());
            return;
        }
        verifying = request;
        ctx.channel().config().setAutoRead(false);
        try {
            hashing.execute(() -> {
                Decision d;
                try {
                    d = authenticator.authorize(header, address, push);
                } catch (RuntimeException | Error e) {
                    log.error("password check failed", e);
                    d = null;
                }
                Decision verdict = d;
                try {
                    ctx.executor().execute(() -> verified(ctx, verdict));
                } catch (RejectedExecutionException e) {
                    log.debug("event loop gone before a password check finished");
                }
            });
        } catch (RejectedExecutionException e) {
            verified(ctx, null);
        }
    }

    /** On the event loop: the check of {@link #verifying} ended ({@code decision} null: it could not run). */
    private void verified(ChannelHandlerContext ctx, Decision decision) {
        HttpRequest request = verifying;
        verifying = null;
        if (request == null) {
            return;
        }
        if (closed) {
            ReferenceCountUtil.release(request);
            return;
        }
        if (decision == null) {
            refuse(ctx, request, OciError.UNAVAILABLE, "authentication is busy, try again", null);
        } else {
            apply(ctx, request, decision);
        }
        ctx.channel().config().setAutoRead(true); // reading resumes here: read() delivers what is held
        if (verifying == null && !held.isEmpty() && ctx.channel().config().isAutoRead()) {
            drain(ctx, false);
        }
    }

    private void apply(ChannelHandlerContext ctx, HttpRequest request, Decision d) {
        switch (d.outcome()) {
            case ALLOW -> {
                if (d.user() != null) {
                    AccessLogHandler.recordOf(ctx, request).user(d.user());
                }
                ctx.fireChannelRead(request);
            }
            case CHALLENGE -> refuse(ctx, request, OciError.UNAUTHORIZED, "authentication required", null);
            case DENIED -> refuse(ctx, request, OciError.DENIED, "user '" + d.user() + "' may pull but not push", null);
            case THROTTLED -> refuse(ctx, request, OciError.TOOMANYREQUESTS,
                    "too many failed logins from this address; retry later", d.retryAfter());
            default -> throw new IllegalStateException(d.outcome().toString());
        }
    }

    private void refuse(ChannelHandlerContext ctx, HttpRequest request, OciError error, String detail, Duration retryAfter) {
        log.debug("{} {} refused: {}", request.method(), request.uri(), error);
        FullHttpResponse response = errors.response(error, detail, HttpMethod.HEAD.equals(request.method()));
        if (error == OciError.UNAUTHORIZED) {
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, authenticator.challenge());
        }
        if (retryAfter != null) {
            long seconds = Math.max(1, (retryAfter.toMillis() + 999) / 1000);
            response.headers().set(HttpHeaderNames.RETRY_AFTER, seconds);
        }
        discarding = !(request instanceof LastHttpContent);
        ReferenceCountUtil.release(request);
        ctx.writeAndFlush(response);
    }

    private static String address(SocketAddress remote) {
        if (remote instanceof InetSocketAddress inet && inet.getAddress() != null) {
            return inet.getAddress().getHostAddress();
        }
        return String.valueOf(remote);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        releaseHeld();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseHeld();
    }

    private void releaseHeld() {
        closed = true;
        Object m;
        while ((m = held.poll()) != null) {
            ReferenceCountUtil.release(m);
        }
    }
}
