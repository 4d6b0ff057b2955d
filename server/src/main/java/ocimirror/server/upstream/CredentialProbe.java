package ocimirror.server.upstream;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;

/**
 * Asks an upstream whether it accepts a client's credentials for a repository:
 * {@code HEAD /v2/<repo>/manifests/<reference>} with those credentials as Basic, and after a Bearer
 * challenge once more with a token from the upstream's realm, fetched with them as the mirror
 * fetches its own (over TLS unless the upstream itself is plain HTTP).
 *
 * <p>Every probe has its own {@link UpstreamAuth}: tokens issued for one client are never sent
 * for another, nor for the mirror. The credentials go to the upstream's own origin and its token
 * realm only: redirects are not followed (a 3xx from the upstream's origin is its answer), and
 * nothing here logs a header or a credential. Its own connection pool, apart from the mirror's
 * downloads. No retries: the caller answers 503 when the upstream cannot be asked. Thread-safe.
 */
public final class CredentialProbe implements UpstreamAuthorization.Probe, AutoCloseable {
    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST,
            MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.DOCKER_MANIFEST);

    private final UpstreamConfig config;
    private final Clock clock;
    private final String userAgent;
    private final ObjectMapper json = new ObjectMapper();
    private final Origin origin;
    private final HttpTransport transport;

    public CredentialProbe(UpstreamConfig config, EventLoopGroup group, Clock clock, String userAgent) {
        this.config = Objects.requireNonNull(config, "config");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.userAgent = Objects.requireNonNull(userAgent, "userAgent");
        this.origin = Origin.of(config.url());
        this.transport = new HttpTransport(config.name() + "-authz", group, UpstreamTls.clientContext(config.caCert()),
                config.timeouts(), UpstreamClientOptions.defaults().maxConnectionsPerHost());
    }

    /**
     * The upstream's final status for the manifest {@code HEAD} with {@code client}'s credentials:
     * 2xx, 3xx and 404 once it accepted them (a registry refuses before it looks), 401 or 403 when
     * it (or its token endpoint) refused them. Fails with an {@link UpstreamException} when the
     * upstream could not be asked (unreachable, timeout, 5xx, 429, a broken answer).
     */
    @Override
    public CompletableFuture<Integer> status(RepoName repo, String reference, RegistryCredentials client) {
        UpstreamAuth auth = new UpstreamAuth(config.name(), Optional.of(client), config.plainHttp(), clock, json,
                this::realmGet);
        URI url = config.url().resolve("/v2/" + repo + "/manifests/" + reference);
        String scope = "repository:" + repo + ":pull";
        // Basic up front, to the upstream's own origin: a Basic registry answers at once (and a
        // repository it serves anonymously still checks the password); a Bearer one challenges.
        String basic = UpstreamAuth.basicHeader(client);
        return head(url, basic).thenCompose(first -> {
            if (first.status() != 401) {
                return CompletableFuture.completedFuture(first.status());
            }
            return auth.onUnauthorized(first.headers().getAll(HttpHeaderNames.WWW_AUTHENTICATE), scope, basic)
                    .thenCompose(h -> h == null ? CompletableFuture.completedFuture(401)
                            : head(url, h).thenApply(RawResponse::status));
        }).handle((status, e) -> {
            if (e == null) {
                return checked(status, url);
            }
            Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (c instanceof UpstreamException ue && ue.kind() == UpstreamException.Kind.UNAUTHORIZED) {
                return ue.status() == 403 ? 403 : 401; // the token endpoint refused the client
            }
            throw c instanceof RuntimeException re ? re : new CompletionException(c);
        });
    }

    private int checked(int status, URI url) {
        if (status / 100 == 2 || status / 100 == 3 || status == 401 || status == 403 || status == 404) {
            return status;
        }
        UpstreamException.Kind kind = status == 429 ? UpstreamException.Kind.RATE_LIMITED
                : status >= 500 ? UpstreamException.Kind.UPSTREAM_ERROR : UpstreamException.Kind.PROTOCOL;
        throw new UpstreamException(kind, status, null, 1, "upstream '" + config.name() + "' answered " + status
                + " to HEAD " + url.getScheme() + "://" + url.getRawAuthority() + url.getRawPath()
                + " with a client's credentials", null);
    }

    private CompletableFuture<RawResponse> head(URI url, String authorization) {
        return send(HttpMethod.HEAD, url, ACCEPT, authorization, Exchange.ERROR_BODY_LIMIT, true);
    }

    // The token realm: a plain GET, no redirects, the client's Basic credentials (UpstreamAuth decides).
    private CompletableFuture<RawResponse> realmGet(URI url, String authorization) {
        return send(HttpMethod.GET, url, List.of("application/json"), authorization, Exchange.ERROR_BODY_LIMIT * 4, true);
    }

    // A pooled connection the server had closed fails before the request got there: sent again once.
    private CompletableFuture<RawResponse> send(HttpMethod method, URI url, List<String> accept, String authorization,
                                                int limit, boolean again) {
        Origin to = Origin.of(url);
        return transport.send(to, request(method, url, to, accept, authorization), null, limit)
                .handle((r, e) -> {
                    Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                    if (c == null) {
                        return CompletableFuture.completedFuture(r);
                    }
                    if (c instanceof StaleConnectionException s) {
                        return again ? send(method, url, accept, authorization, limit, false)
                                : CompletableFuture.<RawResponse>failedFuture(s.asUpstream());
                    }
                    return CompletableFuture.<RawResponse>failedFuture(c);
                }).thenCompose(f -> f);
    }

    private HttpRequest request(HttpMethod method, URI url, Origin to, List<String> accept, String authorization) {
        String target = url.getRawPath() + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
        DefaultFullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, target, Unpooled.EMPTY_BUFFER);
        r.headers().set(HttpHeaderNames.HOST, to.hostHeader());
        r.headers().set(HttpHeaderNames.USER_AGENT, userAgent);
        r.headers().set(HttpHeaderNames.ACCEPT, String.join(", ", accept));
        if (authorization != null) {
            r.headers().set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        return r;
    }

    @Override
    public void close() {
        transport.close();
    }
}
