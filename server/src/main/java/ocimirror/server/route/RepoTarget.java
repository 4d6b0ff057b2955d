package ocimirror.server.route;

import java.util.Objects;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.RepoName;

/**
 * Where a repository named in a request lives, as {@link UpstreamRouter} decided: in the
 * mirror itself (pushed into it) or on an upstream (proxied and cached).
 */
public sealed interface RepoTarget {

    /** The local name: what tags, manifests and blob links are stored under. */
    RepoName repo();

    /** A repository held by the mirror itself: the push API works, nothing is fetched. */
    record Hosted(RepoName repo) implements RepoTarget {
        public Hosted {
            Objects.requireNonNull(repo, "repo");
        }
    }

    /**
     * A repository proxied from {@code upstream}.
     *
     * @param upstream     the upstream it comes from
     * @param upstreamRepo its name on the upstream, Docker Hub's {@code library/} already applied
     * @param repo         the cache key {@code <upstream.name()>/<upstreamRepo>}: the same for
     *                     every way a client can name it (ns, path prefix, default upstream)
     * @param namespace    the {@code ns} query value as the client sent it, to echo in
     *                     {@code OCI-Namespace}; null when the request had none
     */
    record Proxied(UpstreamConfig upstream, RepoName upstreamRepo, RepoName repo, String namespace)
            implements RepoTarget {
        public Proxied {
            Objects.requireNonNull(upstream, "upstream");
            Objects.requireNonNull(upstreamRepo, "upstreamRepo");
            Objects.requireNonNull(repo, "repo");
        }
    }
}
