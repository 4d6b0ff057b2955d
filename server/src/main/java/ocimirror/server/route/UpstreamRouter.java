package ocimirror.server.route;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.RepoName;

/**
 * Decides, for a repository named in a request, whether the mirror hosts it or which upstream
 * it is proxied from. Pure, immutable and thread-safe; no Netty.
 *
 * <p>With no upstream configured the mirror is a plain registry: every name is
 * {@link RepoTarget.Hosted} and {@code ns} is ignored (a plain registry behind a containerd
 * {@code hosts.toml} receives one, and distribution ignores it too). Otherwise, in order:
 * <ol>
 * <li><b>{@code ns} given</b> (containerd as a mirror: {@code /v2/library/nginx/manifests/x?ns=docker.io}):
 *     the upstream whose alias or name equals it (case-insensitively), and the whole path is
 *     the upstream repository. One exception: a first segment that selects <em>that same</em>
 *     upstream is dropped, because containerd's "own namespace" layout
 *     ({@code [host."https://mirror/v2/docker.io"]}, {@code override_path = true}) sends the
 *     prefix and the ns together. An {@code ns} that selects no upstream is {@code NAME_UNKNOWN}
 *     naming the configured aliases, never a fall-through to the default upstream.</li>
 * <li><b>First segment selects an upstream</b> by alias or name, and more segments follow
 *     (path prefix {@code mirror/gcr.io/distroless/static}, or the own-namespace layout without
 *     ns): that upstream, the rest is the upstream repository. A single-segment name is never
 *     a prefix (as in distribution's reference parsing): {@code /v2/gcr.io/manifests/x} is a
 *     repository named {@code gcr.io}.</li>
 * <li><b>First segment is a hosted namespace</b>: {@link RepoTarget.Hosted}.</li>
 * <li><b>First segment contains a dot</b> and more segments follow, but it selects nothing
 *     above: it can only be meant as a registry host that is not configured, so
 *     {@code NAME_UNKNOWN} naming the configured aliases. Sending {@code quay.io/x/y} to the
 *     default upstream would be a silent fall-through (Docker Hub namespaces never contain a
 *     dot). To host repositories under a dotted namespace, list it in {@code hosted}.</li>
 * <li>Otherwise <b>the default upstream</b> if one is configured (Docker daemon
 *     {@code registry-mirrors}: {@code /v2/library/nginx/...}), else {@link RepoTarget.Hosted}.</li>
 * </ol>
 * On an upstream whose host is Docker Hub's ({@link UpstreamConfig#implicitLibraryPrefix()}),
 * a single-segment upstream repository gets the {@code library/} prefix, so {@code nginx},
 * {@code docker.io/nginx} and {@code library/nginx?ns=docker.io} share one cache key,
 * {@code docker.io/library/nginx} with the embedded configuration.
 *
 * <p>Then the upstream's {@link UpstreamConfig#rules() allow and deny rules} are applied to that
 * upstream repository: a refused one is {@code DENIED} (403) naming the upstream and the rule, so
 * that every route (manifests, blobs, tags, referrers), pins, prefetch and import refuse it before
 * any cache lookup or upstream request, and a copy cached before the rule was set is not served
 * either. Hosted repositories are never subject to them. Refusals are counted per upstream
 * ({@link #denials}), the one mutable (thread-safe) state here.
 */
public final class UpstreamRouter {

    private static final String LIBRARY = "library/";

    private final List<UpstreamConfig> upstreams;
    private final Set<String> hosted;
    private final Map<String, UpstreamConfig> bySelector;
    private final Map<String, UpstreamConfig> byName;
    private final UpstreamConfig defaultUpstream;
    private final List<String> selectorList;
    private final String configured;
    private final Map<String, LongAdder> denied;

    /**
     * @param upstreams        the upstreams, validated together (as {@code MirrorConfig} does)
     * @param hostedNamespaces first path segments that are hosted, never proxied
     * @throws IllegalArgumentException if two upstreams share a name or alias, more than one is
     *                                  the default, or a hosted namespace selects an upstream
     */
    public UpstreamRouter(List<UpstreamConfig> upstreams, List<String> hostedNamespaces) {
        this.upstreams = List.copyOf(Objects.requireNonNull(upstreams, "upstreams"));
        this.hosted = Set.copyOf(Objects.requireNonNull(hostedNamespaces, "hostedNamespaces"));
        Map<String, UpstreamConfig> selectors = new HashMap<>();
        UpstreamConfig def = null;
        Set<String> listed = new LinkedHashSet<>();
        for (UpstreamConfig u : this.upstreams) {
            for (String s : u.selectors()) {
                UpstreamConfig other = selectors.putIfAbsent(s, u);
                if (other != null && other != u) {
                    throw new IllegalArgumentException("'" + s + "' selects both upstream '" + other.name()
                            + "' and upstream '" + u.name() + "'");
                }
                if (hosted.contains(s)) {
                    throw new IllegalArgumentException("hosted namespace '" + s + "' is also upstream '"
                            + u.name() + "'");
                }
            }
            listed.addAll(u.selectors());
            if (u.isDefault()) {
                if (def != null) {
                    throw new IllegalArgumentException("two default upstreams: '" + def.name() + "' and '"
                            + u.name() + "'");
                }
                def = u;
            }
        }
        this.bySelector = Map.copyOf(selectors);
        this.byName = this.upstreams.stream().collect(Collectors.toUnmodifiableMap(UpstreamConfig::name, u -> u));
        this.defaultUpstream = def;
        this.selectorList = List.copyOf(listed);
        this.configured = String.join(", ", listed);
        Map<String, LongAdder> counts = new HashMap<>();
        for (UpstreamConfig u : this.upstreams) {
            counts.put(u.name(), new LongAdder());
        }
        this.denied = Map.copyOf(counts);
    }

    /** False when no upstream is configured: a plain registry, every repository hosted. */
    public boolean proxies() {
        return !upstreams.isEmpty();
    }

    /**
     * Routes {@code requested}, the repository name of the request path.
     *
     * @param ns the {@code ns} query value ({@link OciRouteParser.ParsedRequest#ns()}), or null
     * @throws ocimirror.storage.oci.OciException NAME_UNKNOWN (404) for an {@code ns} or a
     *         dotted first segment that selects no upstream, the message listing the configured
     *         aliases; NAME_INVALID (400) when the cache key {@code <upstream>/<repo>} would
     *         exceed 255 characters; DENIED (403) when the upstream's allow and deny rules refuse
     *         the repository
     */
    public RepoTarget resolve(RepoName requested, String ns) {
        Objects.requireNonNull(requested, "requested");
        if (!proxies()) {
            return new RepoTarget.Hosted(requested);
        }
        String name = requested.value();
        int slash = name.indexOf('/');
        String first = slash < 0 ? name : name.substring(0, slash);
        String rest = slash < 0 ? null : name.substring(slash + 1);
        if (ns != null) {
            UpstreamConfig u = bySelector.get(ns.toLowerCase(Locale.ROOT));
            if (u == null) {
                throw OciError.NAME_UNKNOWN.exception("ns '" + ns + "' names no upstream of this mirror; configured: "
                        + configured);
            }
            boolean ownPrefix = rest != null && u.selectors().contains(first);
            return proxied(u, ownPrefix ? rest : name, ns);
        }
        if (rest != null) {
            UpstreamConfig u = bySelector.get(first);
            if (u != null) {
                return proxied(u, rest, null);
            }
        }
        if (hosted.contains(first)) {
            return new RepoTarget.Hosted(requested);
        }
        if (rest != null && first.indexOf('.') >= 0) {
            throw OciError.NAME_UNKNOWN.exception("'" + first + "' names no upstream of this mirror and no hosted"
                    + " namespace; configured: " + configured);
        }
        return defaultUpstream == null ? new RepoTarget.Hosted(requested) : proxied(defaultUpstream, name, null);
    }

    private RepoTarget.Proxied proxied(UpstreamConfig u, String upstreamRepo, String ns) {
        String repo = u.implicitLibraryPrefix() && upstreamRepo.indexOf('/') < 0 ? LIBRARY + upstreamRepo : upstreamRepo;
        String key = u.name() + "/" + repo;
        if (key.length() > RepoName.MAX_LENGTH) {
            throw OciError.NAME_INVALID.exception("repository name too long: the cache key '" + u.name()
                    + "/...' would have " + key.length() + " characters, at most " + RepoName.MAX_LENGTH);
        }
        String refusal = u.rules().refusal(repo);
        if (refusal != null) {
            denied.get(u.name()).increment();
            throw OciError.DENIED.exception("repository '" + repo + "' of upstream '" + u.name() + "' is not proxied"
                    + " by this mirror: it " + refusal);
        }
        return new RepoTarget.Proxied(u, RepoName.of(repo), RepoName.of(key), ns);
    }

    /**
     * Whether {@code _catalog} may list {@code stored}, a repository name as the store holds it:
     * not the cache key ({@code <upstream>/<repo>}) of a repository its upstream's rules refuse
     * now (a copy cached before the rule was set), which {@link #resolve} would not serve either.
     * Not counted as a denial: nobody asked for it.
     */
    public boolean listable(String stored) {
        int slash = stored.indexOf('/');
        UpstreamConfig u = slash < 0 ? null : byName.get(stored.substring(0, slash));
        return u == null || u.rules().refusal(stored.substring(slash + 1)) == null;
    }

    /** Repositories of {@code upstream} its rules refused so far (0 for a name not configured). */
    public long denials(String upstream) {
        LongAdder n = denied.get(upstream);
        return n == null ? 0 : n.sum();
    }

    /** The names of the configured upstreams, in configuration order. */
    public List<String> upstreamNames() {
        return upstreams.stream().map(UpstreamConfig::name).toList();
    }

    /** The aliases and names requests may select upstreams with, in configuration order (for logs). */
    public List<String> selectors() {
        return selectorList;
    }
}
