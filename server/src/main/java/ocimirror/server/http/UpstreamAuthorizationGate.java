package ocimirror.server.http;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.RepoTarget;
import ocimirror.storage.oci.OciError;

/**
 * Lets a request for a repository of an upstream with {@code authorization: upstream} through
 * only once {@link UpstreamAuthorization} allowed its client; refusals are 401 with the mirror's
 * challenge ({@code UNAUTHORIZED}: no credentials, or the upstream's 401) or 403 {@code DENIED}.
 * The check completes off the event loop; the request continues on it.
 */
final class UpstreamAuthorizationGate {
    /**
     * What a probe HEADs for a request that names no manifest: the verdict is per repository, and
     * a 404 for a tag the repository lacks is an acceptance too (a registry refuses before it looks).
     */
    static final String ANY_TAG = "latest";

    private final UpstreamAuthorization authorization;

    UpstreamAuthorizationGate(UpstreamAuthorization authorization) {
        this.authorization = authorization;
    }

    /** Whether {@code p}'s upstream decides, so that {@link #check} must run first. */
    boolean applies(RepoTarget.Proxied p) {
        return p.upstream().authorization().upstream();
    }

    /**
     * The base {@code /v2/} without credentials while some upstream decides: challenged, so that
     * Docker and skopeo (which learn the scheme from this ping) send theirs. True if it answered.
     */
    boolean challengeBase(RegistryHandler h, Exchange ex) {
        if (!authorization.delegates() || ex.request.headers().contains(HttpHeaderNames.AUTHORIZATION)) {
            return false;
        }
        h.respond(ex, unauthorized(h, ex, "authentication required"));
        return true;
    }

    /** Runs {@code then} on the event loop if the client may read {@code p}; answers the refusal otherwise. */
    void check(RegistryHandler h, Exchange ex, RepoTarget.Proxied p, OciRoute route, Runnable then) {
        String header = ex.request.headers().get(HttpHeaderNames.AUTHORIZATION);
        h.await(ex, authorization.check(p.upstream(), p.upstreamRepo(), reference(route), header), v -> {
            switch (v.outcome()) {
                case ALLOWED -> {
                    ex.record.user(v.user());
                    then.run();
                }
                case CHALLENGE -> h.respond(ex, unauthorized(h, ex, "authentication required"));
                case UNAUTHORIZED -> h.respond(ex, unauthorized(h, ex, "upstream '" + p.upstream().name()
                        + "' does not accept these credentials"));
                case DENIED -> h.respond(ex, h.errors().response(OciError.DENIED, "upstream '" + p.upstream().name()
                        + "' denies these credentials access to " + p.upstreamRepo(), ex.head));
                default -> throw new IllegalStateException(v.outcome().toString());
            }
        });
    }

    private FullHttpResponse unauthorized(RegistryHandler h, Exchange ex, String detail) {
        FullHttpResponse r = h.errors().response(OciError.UNAUTHORIZED, detail, ex.head);
        r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, authorization.challenge());
        return r;
    }

    /** The manifest the probe HEADs: the one asked for, the subject of a referrers request, else {@link #ANY_TAG}. */
    static String reference(OciRoute route) {
        if (route instanceof OciRoute.Manifest m) {
            return m.reference().toString();
        } else if (route instanceof OciRoute.Referrers r) {
            return r.digest().toString();
        }
        return ANY_TAG;
    }
}
