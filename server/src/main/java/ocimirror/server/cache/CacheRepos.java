package ocimirror.server.cache;

import java.util.List;
import java.util.function.Predicate;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.RepoName;

/**
 * Which local repositories are caches of an upstream: their names start with an upstream's name
 * and a slash (the cache key {@code <upstream>/<repo>}, see {@code UpstreamRouter}). Every other
 * repository holds pushed content, which eviction never touches and garbage collection tends.
 * A repository of an upstream removed from the configuration counts as hosted: kept, not evicted.
 */
public final class CacheRepos implements Predicate<RepoName> {
    private final List<String> prefixes;

    public CacheRepos(List<UpstreamConfig> upstreams) {
        this.prefixes = upstreams.stream().map(u -> u.name() + "/").toList();
    }

    /** True for a cache repository. */
    @Override
    public boolean test(RepoName repo) {
        for (String p : prefixes) {
            if (repo.value().startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** True for a hosted repository. */
    public boolean hosted(RepoName repo) {
        return !test(repo);
    }
}
