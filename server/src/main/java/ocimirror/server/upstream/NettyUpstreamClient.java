package ocimirror.server.upstream;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import javax.net.ssl.SSLException;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.UpstreamException.Kind;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link UpstreamClient} on Netty. Each attempt of a request: take the Authorization learned
 * from earlier challenges, send, answer a 401 once (Basic, or a Bearer token from the realm),
 * follow up to {@value #MAX_REDIRECTS} redirects (the Authorization header goes only to the
 * upstream's own origin, never to the blob storage it redirects to). Failed attempts are
 * retried with exponential backoff on connect failures, 5xx and 429 ({@code Retry-After}
 * honoured up to a cap), but never once a blob body has begun to reach the sink.
 */
public final class NettyUpstreamClient implements UpstreamClient {

    static final int MAX_REDIRECTS = 5;
    private static final Logger LOG = LoggerFactory.getLogger(NettyUpstreamClient.class);
    private static final Set<Integer> REDIRECTS = Set.of(301, 302, 303, 307, 308);

    private final UpstreamConfig config;
    private final EventLoopGroup group;
    private final UpstreamClientOptions options;
    private final Clock clock;
    private final ObjectMapper json = new ObjectMapper();
    private final Origin origin;
    private final HttpTransport transport;
    private final UpstreamAuth auth;
    private final UpstreamLimiter limiter;

    /**
     * @param credentials the mirror's credentials for this upstream (see {@link RegistryCredentials#forUpstream})
     * @param group       event loops to run on; shared, and not shut down by {@link #close()}
     * @param clock       decides token expiry
     */
    public NettyUpstreamClient(UpstreamConfig config, Optional<RegistryCredentials> credentials, EventLoopGroup group,
                               Clock clock, UpstreamClientOptions options) {
        this(config, UpstreamCredentials.fixed(credentials), group, clock, options);
    }

    /** With credentials that may change while it runs (a credential helper's). */
    NettyUpstreamClient(UpstreamConfig config, UpstreamCredentials credentials, EventLoopGroup group, Clock clock,
                        UpstreamClientOptions options) {
        this(config, credentials, group, clock, options, UpstreamLimiter.of(config, group));
    }

    /**
     * As above, taking its turns and bandwidth from {@code limiter}: the one limiter of an upstream
     * whose URLs each have a client of their own ({@link FailoverUpstreamClient}), since the limits
     * are the upstream's, not a URL's.
     */
    NettyUpstreamClient(UpstreamConfig config, UpstreamCredentials credentials, EventLoopGroup group, Clock clock,
                        UpstreamClientOptions options, UpstreamLimiter limiter) {
        this.config = Objects.requireNonNull(config, "config");
        this.group = Objects.requireNonNull(group, "group");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.options = Objects.requireNonNull(options, "options");
        this.origin = Origin.of(config.url());
        // Built for plain-HTTP upstreams too: their token realm or redirects may be HTTPS.
        this.limiter = Objects.requireNonNull(limiter, "limiter");
        this.transport = new HttpTransport(config.name(), group, UpstreamTls.clientContext(config.caCert()), config.timeouts(),
                options.maxConnectionsPerHost(), limiter.bandwidth());
        this.auth = new UpstreamAuth(config.name(), credentials, config.plainHttp(), clock, json, this::realmGet);
    }

    /**
     * A client with the credentials the configuration points at (read now; a credential helper
     * runs on the common pool when first needed) and default options.
     */
    public static NettyUpstreamClient create(UpstreamConfig config, EventLoopGroup group, Clock clock) {
        return new NettyUpstreamClient(config, UpstreamCredentials.of(config, ForkJoinPool.commonPool(), clock), group,
                clock, UpstreamClientOptions.defaults());
    }

    /** An event loop group for upstream clients: epoll where available, NIO elsewhere. */
    public static EventLoopGroup newEventLoopGroup(int threads) {
        // Named, so that a thread dump tells them from the server's own loops.
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("ocimirror-upstream"),
                Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    }

    @Override
    public String name() {
        return config.name();
    }

    /** The upstream's connection turns and bandwidth bucket (for metrics). */
    public UpstreamLimiter limiter() {
        return limiter;
    }

    @Override
    public CompletableFuture<UpstreamManifest> getManifest(RepoName repo, Reference reference, List<String> accept) {
        Call call = new Call(HttpMethod.GET, "/v2/" + repo + "/manifests/" + reference, accept, scope(repo), null,
                options.maxManifestBytes());
        return map(execute(call), r -> new UpstreamManifest(r.status(), r.headers().get(HttpHeaderNames.CONTENT_TYPE),
                digestHeader(r.headers(), call), r.body()));
    }

    @Override
    public CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept) {
        Call call = new Call(HttpMethod.HEAD, "/v2/" + repo + "/manifests/" + reference, accept, scope(repo), null, 0);
        return map(execute(call), r -> new UpstreamHead(r.status(), digestHeader(r.headers(), call),
                r.headers().get(HttpHeaderNames.CONTENT_TYPE), parseLength(r.headers())));
    }

    @Override
    public CompletableFuture<UpstreamListing> listTags(RepoName repo, int n, String last) {
        StringBuilder query = new StringBuilder();
        if (n >= 0) {
            query.append("n=").append(n);
        }
        if (last != null) {
            query.append(query.isEmpty() ? "" : "&").append("last=").append(encode(last));
        }
        String path = "/v2/" + repo + "/tags/list" + (query.isEmpty() ? "" : "?" + query);
        return listing(new Call(HttpMethod.GET, path, List.of("application/json"), scope(repo), null,
                options.maxManifestBytes()));
    }

    @Override
    public CompletableFuture<UpstreamListing> referrers(RepoName repo, Digest subject, String artifactType) {
        String path = "/v2/" + repo + "/referrers/" + subject
                + (artifactType == null ? "" : "?artifactType=" + encode(artifactType));
        return listing(new Call(HttpMethod.GET, path, List.of(MediaTypes.OCI_INDEX), scope(repo), null,
                options.maxManifestBytes()));
    }

    @Override
    public CompletableFuture<UpstreamListing> referrersPage(RepoName repo, Digest subject, String link) {
        String path = "/v2/" + repo + "/referrers/" + subject;
        String target = ReferrersLink.target(link, origin, path);
        if (target == null) {
            return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.PROTOCOL, "upstream '"
                    + config.name() + "' named a next page of referrers that is not its own referrers of " + repo
                    + "@" + subject + ": " + link));
        }
        return listing(new Call(HttpMethod.GET, target, List.of(MediaTypes.OCI_INDEX), scope(repo), null,
                options.maxManifestBytes()));
    }

    private CompletableFuture<UpstreamListing> listing(Call call) {
        return map(execute(call), r -> new UpstreamListing(r.status(), r.headers().get(HttpHeaderNames.CONTENT_TYPE),
                r.headers().get("Link"), r.headers().get("OCI-Filters-Applied"),
                r.body() == null ? new byte[0] : r.body()));
    }

    private static String encode(String queryValue) {
        return URLEncoder.encode(queryValue, StandardCharsets.UTF_8);
    }

    @Override
    public CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink) {
        SinkGuard guard = new SinkGuard(Objects.requireNonNull(sink, "sink"));
        Call call = new Call(HttpMethod.GET, "/v2/" + repo + "/blobs/" + digest, List.of(), scope(repo), guard,
                Exchange.ERROR_BODY_LIMIT);
        CompletableFuture<Long> out = new CompletableFuture<>();
        execute(call).whenComplete((r, err) -> {
            if (err == null) {
                guard.complete();
                out.complete(guard.bytes());
            } else {
                Throwable cause = unwrap(err);
                guard.error(cause);
                out.completeExceptionally(cause);
            }
        });
        out.whenComplete((v, e) -> {
            if (out.isCancelled()) {
                call.cancel();
            }
        });
        return out;
    }

    @Override
    public void close() {
        transport.close();
    }

    /** One logical request; carried through attempts, auth retries and redirects. */
    private static final class Call {
        final HttpMethod method;
        final String path;
        final List<String> accept;
        final String scope;
        final SinkGuard sink;
        final int limit;
        volatile boolean cancelled;
        volatile CompletableFuture<RawResponse> inFlight;
        volatile CompletableFuture<ConnectionLimiter.Permit> turn;

        Call(HttpMethod method, String path, List<String> accept, String scope, SinkGuard sink, int limit) {
            this.method = method;
            this.path = path;
            this.accept = List.copyOf(accept == null ? List.of() : accept);
            this.scope = scope;
            this.sink = sink;
            this.limit = limit;
        }

        void cancel() {
            cancelled = true;
            CompletableFuture<RawResponse> f = inFlight;
            if (f != null) {
                f.cancel(false);
            }
            CompletableFuture<ConnectionLimiter.Permit> t = turn;
            if (t != null) {
                t.cancel(false); // leaves the queue if it still waits
            }
        }

        boolean clientWaiting() {
            return sink == null || sink.clientWaiting();
        }

        boolean delivered() {
            return sink != null && sink.started();
        }

        // Without the query: a redirect to blob storage carries a presigned signature there.
        String describe(URI url) {
            return method + " " + url.getScheme() + "://" + url.getRawAuthority() + url.getRawPath();
        }
    }

    /**
     * Runs {@code call} once it has one of the upstream's turns ({@code maxConnections}), held
     * through its retries, auth round and redirects. A wait past the first-byte timeout fails
     * with {@link Kind#TIMEOUT} (a 503 for the client) and is not retried: the queue is the
     * mirror's own, and waiting again would only lengthen it.
     */
    private CompletableFuture<RawResponse> execute(Call call) {
        CompletableFuture<RawResponse> out = new CompletableFuture<>();
        CompletableFuture<ConnectionLimiter.Permit> turn = limiter.connections().acquire(call::clientWaiting);
        call.turn = turn;
        if (call.cancelled) {
            turn.cancel(false);
        }
        turn.whenComplete((permit, err) -> {
            if (err != null) {
                Throwable e = unwrap(err);
                out.completeExceptionally(e instanceof TimeoutException
                        ? new UpstreamException(Kind.TIMEOUT, "upstream '" + config.name() + "': "
                                + call.describe(config.url().resolve(call.path)) + " waited for a turn: " + e.getMessage()
                                + " (maxConnections)")
                        : e);
                return;
            }
            out.whenComplete((r, e) -> permit.release());
            if (call.sink != null) {
                call.sink.onTurn();
            }
            attempt(call, 1, 1, out);
        });
        return out;
    }

    private void attempt(Call call, int n, int staleRetries, CompletableFuture<RawResponse> out) {
        if (call.cancelled) {
            out.completeExceptionally(new CancellationException("cancelled"));
            return;
        }
        URI url = config.url().resolve(call.path);
        auth.headerFor(call.scope)
                .thenCompose(h -> chain(call, url, h, false, 0))
                .whenComplete((resp, err) -> {
                    if (err == null) {
                        out.complete(resp);
                        return;
                    }
                    Throwable e = unwrap(err);
                    if (e instanceof StaleConnectionException stale) {
                        if (staleRetries > 0 && !call.delivered()) {
                            attempt(call, n, staleRetries - 1, out); // the request never got there
                            return;
                        }
                        e = stale.asUpstream();
                    }
                    if (!(e instanceof UpstreamException ue)) {
                        out.completeExceptionally(e); // the sink's own failure, or cancellation
                        return;
                    }
                    Duration delay = call.delivered() || call.cancelled || n > config.maxRetries() ? null : retryDelay(ue, n);
                    if (delay == null) {
                        out.completeExceptionally(ue.withAttempts(n));
                        return;
                    }
                    LOG.debug("upstream '{}': attempt {} of {} failed ({}), retrying in {} ms", config.name(), n,
                            call.describe(url), ue.getMessage(), delay.toMillis());
                    try {
                        group.schedule(() -> attempt(call, n + 1, staleRetries, out), delay.toNanos(), TimeUnit.NANOSECONDS);
                    } catch (RuntimeException rejected) {
                        out.completeExceptionally(ue.withAttempts(n));
                    }
                });
    }

    /** The wait before retry number {@code n}, or null if this failure is not worth retrying. */
    Duration retryDelay(UpstreamException e, int n) {
        Duration backoff = backoff(n);
        return switch (e.kind()) {
            // A certificate problem does not fix itself in 200 ms.
            case UNREACHABLE -> hasCause(e, SSLException.class) ? null : backoff;
            case UPSTREAM_ERROR, RATE_LIMITED -> {
                Duration ra = e.retryAfter().orElse(null);
                if (ra == null) {
                    yield backoff;
                }
                yield ra.compareTo(options.maxRetryAfter()) > 0 ? null : (ra.compareTo(backoff) > 0 ? ra : backoff);
            }
            default -> null;
        };
    }

    private Duration backoff(int n) {
        long initial = options.initialBackoff().toNanos();
        long max = options.maxBackoff().toNanos();
        long d = initial << Math.min(n - 1, 20);
        d = d <= 0 || d > max ? max : d;
        // Up to 20 % jitter so that many clients do not retry in lockstep.
        return Duration.ofNanos(d + (d >= 5 ? ThreadLocalRandom.current().nextLong(d / 5 + 1) : 0));
    }

    // One request, its 401 answer and redirects.
    private CompletableFuture<RawResponse> chain(Call call, URI url, String authorization, boolean authRetried, int hops) {
        Origin to = Origin.of(url);
        boolean ownOrigin = to.equals(origin);
        HttpRequest request = request(call.method, url, to, call.accept, ownOrigin ? authorization : null);
        CompletableFuture<RawResponse> sent = transport.send(to, request, call.sink, call.limit);
        call.inFlight = sent;
        if (call.cancelled) {
            sent.cancel(false);
        }
        return sent.thenCompose(resp -> {
            int s = resp.status();
            if (ownOrigin) {
                notifyListener(s, resp.headers());
            }
            if (s / 100 == 2) {
                return CompletableFuture.completedFuture(resp);
            }
            if (REDIRECTS.contains(s)) {
                return redirect(call, url, resp, authorization, authRetried, hops);
            }
            if (s == 401 && ownOrigin && !authRetried) {
                return auth.onUnauthorized(resp.headers().getAll(HttpHeaderNames.WWW_AUTHENTICATE), call.scope, authorization)
                        .thenCompose(h -> h == null
                                ? CompletableFuture.failedFuture(failure(call, url, resp))
                                : chain(call, url, h, true, hops));
            }
            if (s == 403 && ownOrigin && !authRetried) {
                // Renewable credentials (a helper's) are asked again once; fixed ones give null.
                return auth.onForbidden(call.scope, authorization)
                        .thenCompose(h -> h == null
                                ? CompletableFuture.failedFuture(failure(call, url, resp))
                                : chain(call, url, h, true, hops));
            }
            return CompletableFuture.failedFuture(failure(call, url, resp));
        });
    }

    private CompletableFuture<RawResponse> redirect(Call call, URI from, RawResponse resp, String authorization,
                                                    boolean authRetried, int hops) {
        String location = resp.headers().get(HttpHeaderNames.LOCATION);
        if (hops >= MAX_REDIRECTS) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.PROTOCOL, resp.status(), null, 1,
                    "upstream '" + config.name() + "': more than " + MAX_REDIRECTS + " redirects for "
                            + call.describe(config.url().resolve(call.path)), null));
        }
        URI next;
        try {
            next = from.resolve(new URI(location == null ? "" : location.trim()));
            Origin.of(next);
        } catch (URISyntaxException | IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.PROTOCOL, resp.status(), null, 1,
                    "upstream '" + config.name() + "' redirected " + call.describe(from) + " to an unusable Location: "
                            + location, null));
        }
        if ("https".equalsIgnoreCase(from.getScheme()) && !"https".equalsIgnoreCase(next.getScheme())) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.PROTOCOL, resp.status(), null, 1,
                    "upstream '" + config.name() + "' redirected " + call.describe(from) + " from HTTPS to plain " + next
                            .getScheme() + ": refused", null));
        }
        return chain(call, next, authorization, authRetried, hops + 1);
    }

    private void notifyListener(int status, HttpHeaders headers) {
        try {
            options.responseListener().onResponse(config.name(), status, headers);
        } catch (RuntimeException e) {
            LOG.debug("upstream '{}': response listener failed", config.name(), e);
        }
    }

    private UpstreamException failure(Call call, URI url, RawResponse resp) {
        return Responses.failure(config.name(), call.describe(url), resp, clock, json);
    }

    private HttpRequest request(HttpMethod method, URI url, Origin to, List<String> accept, String authorization) {
        String target = url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath();
        if (url.getRawQuery() != null) {
            target += "?" + url.getRawQuery();
        }
        DefaultFullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, target, Unpooled.EMPTY_BUFFER);
        HttpHeaders h = r.headers();
        h.set(HttpHeaderNames.HOST, to.hostHeader());
        h.set(HttpHeaderNames.USER_AGENT, options.userAgent());
        if (!accept.isEmpty()) {
            h.set(HttpHeaderNames.ACCEPT, String.join(", ", accept));
        }
        if (authorization != null) {
            h.set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        return r;
    }

    // The token realm: a plain GET, no redirects, its own Authorization (Basic or none).
    private CompletableFuture<RawResponse> realmGet(URI url, String authorization) {
        Origin to = Origin.of(url);
        return transport.send(to, request(HttpMethod.GET, url, to, List.of("application/json"), authorization), null,
                Exchange.ERROR_BODY_LIMIT * 4).handle((r, e) -> {
                    if (e == null) {
                        return r;
                    }
                    Throwable c = unwrap(e);
                    if (c instanceof StaleConnectionException s) {
                        throw s.asUpstream(); // retried by the attempt loop like any other failure
                    }
                    throw c instanceof RuntimeException re ? re : new CompletionException(c);
                });
    }

    private Digest digestHeader(HttpHeaders headers, Call call) {
        String v = headers.get("Docker-Content-Digest");
        if (v == null || v.isBlank()) {
            return null;
        }
        try {
            return Digest.parse(v.trim());
        } catch (OciException e) {
            throw new UpstreamException(Kind.PROTOCOL, "upstream '" + config.name() + "' sent a malformed"
                    + " Docker-Content-Digest '" + v + "' for " + call.describe(config.url().resolve(call.path)));
        }
    }

    private static long parseLength(HttpHeaders headers) {
        try {
            String v = headers.get(HttpHeaderNames.CONTENT_LENGTH);
            return v == null ? -1 : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String scope(RepoName repo) {
        return "repository:" + repo + ":pull";
    }

    // Completes with the mapped value, or fails with the bare cause (not a CompletionException).
    private static <T> CompletableFuture<T> map(CompletableFuture<RawResponse> f, Function<RawResponse, T> fn) {
        CompletableFuture<T> out = new CompletableFuture<>();
        f.whenComplete((r, e) -> {
            if (e != null) {
                out.completeExceptionally(unwrap(e));
                return;
            }
            try {
                out.complete(fn.apply(r));
            } catch (RuntimeException ex) {
                out.completeExceptionally(ex);
            }
        });
        return out;
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }
}
