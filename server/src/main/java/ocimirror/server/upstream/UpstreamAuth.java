package ocimirror.server.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import ocimirror.config.RegistryCredentials;
import ocimirror.server.upstream.UpstreamException.Kind;

/**
 * The mirror's authentication to one upstream: Basic with the configured credentials, or the
 * Bearer token flow (challenge, token from the realm, anonymous when no credentials are
 * configured). Tokens are cached per realm, service and scope until shortly before they
 * expire by the injected clock; concurrent requests for one scope share a single fetch.
 * Thread-safe.
 */
final class UpstreamAuth {

    /** Tokens last this long when the realm does not say (distribution's token spec). */
    static final long DEFAULT_EXPIRES_SECONDS = 60;
    private static final int MAX_CACHED_TOKENS = 4096;

    /** A token endpoint and the service name to ask it for. */
    record Realm(URI url, String service) {
    }

    /** @param by the credentials it was fetched with, or null (anonymous) */
    record Token(String value, Instant expiresAt, RegistryCredentials by) {
    }

    private final String upstream;
    private final UpstreamCredentials credentials;
    private final boolean plainHttpUpstream;
    private final Clock clock;
    private final ObjectMapper json;
    // GET url with an optional Authorization header value, no redirects: the realm request.
    private final BiFunction<URI, String, CompletableFuture<RawResponse>> get;
    private final ConcurrentHashMap<String, CompletableFuture<Token>> tokens = new ConcurrentHashMap<>();
    private volatile Realm realm;
    private volatile boolean basic;

    UpstreamAuth(String upstream, Optional<RegistryCredentials> credentials, boolean plainHttpUpstream, Clock clock,
                 ObjectMapper json, BiFunction<URI, String, CompletableFuture<RawResponse>> get) {
        this(upstream, UpstreamCredentials.fixed(credentials), plainHttpUpstream, clock, json, get);
    }

    UpstreamAuth(String upstream, UpstreamCredentials credentials, boolean plainHttpUpstream, Clock clock,
                 ObjectMapper json, BiFunction<URI, String, CompletableFuture<RawResponse>> get) {
        this.upstream = Objects.requireNonNull(upstream, "upstream");
        this.credentials = Objects.requireNonNull(credentials, "credentials");
        this.plainHttpUpstream = plainHttpUpstream;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.json = Objects.requireNonNull(json, "json");
        this.get = Objects.requireNonNull(get, "get");
    }

    /**
     * The Authorization value to send up front for {@code scope}, learned from earlier
     * challenges (so only the first request to an upstream pays for the 401 round trip), or
     * null to send none.
     */
    CompletableFuture<String> headerFor(String scope) {
        Realm r = realm;
        if (r != null) {
            return token(r, scope, scope, false).thenApply(t -> "Bearer " + t.value());
        }
        if (basic) {
            return credentials.current().thenApply(c -> c.map(UpstreamAuth::basicHeader).orElse(null));
        }
        return CompletableFuture.completedFuture(null);
    }

    /**
     * The Authorization value to retry with after a 401 carrying {@code challenges}, or null
     * if there is nothing better to send than {@code sent}.
     */
    CompletableFuture<String> onUnauthorized(List<String> challenges, String scope, String sent) {
        AuthChallenge bearer = null;
        boolean basicOffered = false;
        for (String h : challenges) {
            for (AuthChallenge c : AuthChallenge.parse(h)) {
                if (c.scheme().equals("bearer") && bearer == null) {
                    bearer = c;
                } else if (c.scheme().equals("basic")) {
                    basicOffered = true;
                }
            }
        }
        if (bearer != null) {
            Realm r;
            try {
                r = realm(bearer);
            } catch (UpstreamException e) {
                return CompletableFuture.failedFuture(e);
            }
            realm = r;
            String tokenScope = bearer.param("scope") != null ? bearer.param("scope") : scope;
            // A token we sent was refused (revoked, or expired early): fetch a new one once.
            boolean refresh = sent != null && sent.startsWith("Bearer ");
            return token(r, scope, tokenScope, refresh).thenApply(t -> "Bearer " + t.value());
        }
        if (basicOffered) {
            basic = true;
            if (sent != null && sent.startsWith("Basic ")) {
                return renewedBasic(sent); // the credentials were refused
            }
            return credentials.current().thenApply(c -> c.map(UpstreamAuth::basicHeader).orElse(null));
        }
        return CompletableFuture.completedFuture(null);
    }

    /**
     * The Authorization value to retry with after a 403 to a request that carried {@code sent},
     * or null to give up. Only credentials that can be renewed (a credential helper's) are worth
     * a retry: a registry whose token has expired may answer 403 (ECR does).
     */
    CompletableFuture<String> onForbidden(String scope, String sent) {
        if (sent == null || !credentials.renewable()) {
            return CompletableFuture.completedFuture(null);
        }
        if (sent.startsWith("Basic ")) {
            return renewedBasic(sent);
        }
        Realm r = realm;
        CompletableFuture<Token> t = r == null ? null : tokens.get(key(r, scope));
        RegistryCredentials by = t != null && t.isDone() && !t.isCompletedExceptionally()
                && sent.equals("Bearer " + t.join().value()) ? t.join().by() : null;
        if (by == null) {
            return CompletableFuture.completedFuture(null);
        }
        return credentials.refused(by).thenCompose(c -> c.isEmpty() || c.get().equals(by)
                ? CompletableFuture.completedFuture(null)
                : token(r, scope, scope, true).thenApply(n -> "Bearer " + n.value()));
    }

    /** Renewed credentials after {@code sent} (a Basic value) was refused, or null if there are none. */
    private CompletableFuture<String> renewedBasic(String sent) {
        RegistryCredentials used = fromBasic(sent);
        if (used == null || !credentials.renewable()) {
            return CompletableFuture.completedFuture(null);
        }
        return credentials.refused(used).thenApply(c -> c.isEmpty() || c.get().equals(used) ? null
                : basicHeader(c.get()));
    }

    static RegistryCredentials fromBasic(String header) {
        try {
            String pair = new String(Base64.getDecoder().decode(header.substring("Basic ".length()).trim()),
                    StandardCharsets.UTF_8);
            int colon = pair.indexOf(':');
            return colon <= 0 ? null : new RegistryCredentials(pair.substring(0, colon), pair.substring(colon + 1));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private Realm realm(AuthChallenge bearer) {
        String url = bearer.param("realm");
        try {
            URI u = url == null ? null : new URI(url);
            if (u != null && u.getHost() != null && ("https".equals(u.getScheme()) || "http".equals(u.getScheme()))) {
                return new Realm(u, bearer.param("service"));
            }
        } catch (Exception e) {
            // reported below
        }
        throw new UpstreamException(Kind.PROTOCOL, "upstream '" + upstream + "' sent a Bearer challenge without a"
                + " usable realm: " + url);
    }

    private static String key(Realm r, String scope) {
        return r.url() + " " + r.service() + " " + scope;
    }

    private CompletableFuture<Token> token(Realm r, String scope, String tokenScope, boolean refresh) {
        String key = key(r, scope);
        while (true) {
            CompletableFuture<Token> current = tokens.get(key);
            if (current != null && !refresh && usable(current)) {
                return current;
            }
            CompletableFuture<Token> fresh = new CompletableFuture<>();
            boolean installed = current == null ? tokens.putIfAbsent(key, fresh) == null : tokens.replace(key, current, fresh);
            if (!installed) {
                refresh = false; // another request replaced it just now: share that one
                continue;
            }
            fetch(r, tokenScope).whenComplete((t, e) -> {
                if (e != null) {
                    tokens.remove(key, fresh);
                    fresh.completeExceptionally(e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                            ? e.getCause() : e);
                } else {
                    fresh.complete(t);
                }
            });
            if (tokens.size() > MAX_CACHED_TOKENS) {
                prune();
            }
            return fresh;
        }
    }

    private boolean usable(CompletableFuture<Token> f) {
        if (!f.isDone()) {
            return true;
        }
        return !f.isCompletedExceptionally() && f.join().expiresAt().isAfter(clock.instant());
    }

    private void prune() {
        for (Iterator<Map.Entry<String, CompletableFuture<Token>>> it = tokens.entrySet().iterator(); it.hasNext(); ) {
            if (!usable(it.next().getValue())) {
                it.remove();
            }
        }
    }

    private CompletableFuture<Token> fetch(Realm r, String scope) {
        StringBuilder url = new StringBuilder(r.url().toString());
        char sep = r.url().getRawQuery() == null ? '?' : '&';
        if (r.service() != null) {
            url.append(sep).append("service=").append(URLEncoder.encode(r.service(), StandardCharsets.UTF_8));
            sep = '&';
        }
        if (scope != null) {
            url.append(sep).append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
        }
        // Credentials go to the realm only over TLS, unless the upstream itself is plain HTTP.
        boolean secure = "https".equals(r.url().getScheme()) || plainHttpUpstream;
        URI uri = URI.create(url.toString());
        return credentials.current().thenCompose(c -> {
            RegistryCredentials by = secure ? c.orElse(null) : null;
            return get.apply(uri, by == null ? null : basicHeader(by)).thenCompose(resp -> {
                if ((resp.status() == 401 || resp.status() == 403) && by != null && credentials.renewable()) {
                    // Refused: renewed credentials (a helper run again) get one more try.
                    return credentials.refused(by).thenCompose(n -> n.isEmpty() || n.get().equals(by)
                            ? CompletableFuture.completedFuture(parse(resp, uri, by))
                            : get.apply(uri, basicHeader(n.get())).thenApply(again -> parse(again, uri, n.get())));
                }
                return CompletableFuture.completedFuture(parse(resp, uri, by));
            });
        });
    }

    private Token parse(RawResponse resp, URI uri, RegistryCredentials by) {
        String what = "GET " + uri.getScheme() + "://" + uri.getRawAuthority() + uri.getRawPath();
        if (resp.status() == 401 || resp.status() == 403) {
            throw new UpstreamException(Kind.UNAUTHORIZED, resp.status(), null, 1, "token endpoint of upstream '"
                    + upstream + "' refused " + (by != null ? "the credentials of user '"
                    + by.username() + "'" : "anonymous access") + " (" + what + " answered "
                    + resp.status() + Responses.errorDetail(resp.body(), json) + ")", null);
        }
        if (resp.status() != 200) {
            throw Responses.failure(upstream, what, resp, clock, json);
        }
        JsonNode body;
        try {
            body = json.readTree(resp.body());
        } catch (Exception e) {
            throw new UpstreamException(Kind.PROTOCOL, "token endpoint of upstream '" + upstream + "' sent no JSON", e);
        }
        String value = body.hasNonNull("token") ? body.get("token").asText() : body.path("access_token").asText("");
        if (value.isEmpty()) {
            throw new UpstreamException(Kind.PROTOCOL, "token endpoint of upstream '" + upstream
                    + "' sent neither token nor access_token");
        }
        long expires = body.path("expires_in").asLong(0);
        if (expires <= 0) {
            expires = DEFAULT_EXPIRES_SECONDS;
        }
        // Stop using it a little early so that it does not expire on its way to the upstream.
        long margin = Math.min(10, expires / 10);
        return new Token(value, clock.instant().plusSeconds(expires - margin), by);
    }

    static String basicHeader(RegistryCredentials c) {
        return "Basic " + Base64.getEncoder().encodeToString(
                (c.username() + ":" + c.password()).getBytes(StandardCharsets.UTF_8));
    }
}
