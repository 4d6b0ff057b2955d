package ocimirror.server.auth;

import static java.util.Objects.requireNonNull;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import java.util.function.Predicate;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.RepoName;

/**
 * The reads that the mirror's own client authentication leaves to the upstream: a request for a
 * repository of an upstream with {@code authorization: upstream} (the upstream's verdict replaces
 * the mirror's htpasswd there; the registry handler asks it), and, when some upstream decides,
 * the base {@code /v2/} with credentials (it discloses nothing, and a client's upstream password
 * is not in the mirror's file: {@code docker login} must not fail on it). Unparseable targets are
 * not delegated: the mirror decides them as before.
 */
public final class DelegatedRequests implements Predicate<HttpRequest> {
    private final OciRouteParser parser;
    private final UpstreamRouter router;
    private final boolean any;

    public DelegatedRequests(OciRouteParser parser, UpstreamRouter router, UpstreamAuthorization authorization) {
        this.parser = requireNonNull(parser, "parser");
        this.router = requireNonNull(router, "router");
        this.any = authorization.delegates();
    }

    @Override
    public boolean test(HttpRequest request) {
        if (!any) {
            return false;
        }
        try {
            OciRouteParser.ParsedRequest parsed = parser.parseRequest(request.uri());
            OciRoute route = parsed.route();
            if (route instanceof OciRoute.Base) {
                return request.headers().contains(HttpHeaderNames.AUTHORIZATION);
            }
            RepoName repo = route instanceof OciRoute.Manifest m ? m.repo()
                    : route instanceof OciRoute.Blob b ? b.repo()
                    : route instanceof OciRoute.Tags t ? t.repo()
                    : route instanceof OciRoute.Referrers r ? r.repo() : null;
            return repo != null && router.resolve(repo, parsed.ns()) instanceof RepoTarget.Proxied p
                    && p.upstream().authorization().upstream();
        } catch (RuntimeException e) {
            return false;
        }
    }
}
