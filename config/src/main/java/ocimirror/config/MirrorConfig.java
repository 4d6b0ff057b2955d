package ocimirror.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The whole configuration, immutable, validated on construction (an
 * {@link IllegalArgumentException} whose message starts with the field path, e.g.
 * {@code upstreams[1].aliases[0]: ...}).
 *
 * <p>{@link #defaults()} is a plain registry: no upstream, every repository hosted, served over
 * HTTPS with a generated CA ({@link TlsConfig#defaults()}), no client authentication. It is what
 * a configuration file's missing keys take. {@link #embedded()} is what {@code serve} runs
 * with when no file is given: the public registries proxied, {@code local/} hosted. Plain HTTP
 * is always asked for explicitly ({@code withTls(TlsConfig.off())}, {@code serve --plain-http},
 * {@code tls: {mode: off}}), in tests too, so that nothing ends up on plain HTTP by accident.
 *
 * @param listen      host and port to bind
 * @param dataDir     root of blobs/, ingest/ and meta/
 * @param storage     what clients may delete
 * @param limits      input limits ({@code maxManifestBytes} also bounds manifests fetched upstream)
 * @param upstreams   the registries proxied; empty for a plain registry
 * @param hosted      hosted namespaces: first path segments that are push-only and never proxied
 * @param pullThrough pull-through behaviour
 * @param tls         how the server speaks TLS; null: {@link TlsConfig#defaults()} (generated CA)
 * @param auth        client authentication; null: {@link AuthConfig#disabled()}
 * @param observability metrics endpoints and log format; null: {@link ObservabilityConfig#defaults()}
 * @param cache       size bound, eviction watermarks and pins; null: {@link CacheConfig#defaults()} (unbounded)
 * @param gc          garbage collection of hosted namespaces; null: {@link GcConfig#defaults()}
 * @param shutdown    how a stop drains the connections; null: {@link Shutdown#defaults()}
 * @param warmup      how {@code serve} warms its request paths before it reports ready; null: {@link Warmup#defaults()}
 * @param shared      the blobs in S3 and the metadata in PostgreSQL, shared by several replicas; null: a
 *                    single node on its own files and RocksDB under {@code dataDir}
 */
public record MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits,
                           List<UpstreamConfig> upstreams, List<String> hosted, PullThrough pullThrough,
                           TlsConfig tls, AuthConfig auth, ObservabilityConfig observability,
                           CacheConfig cache, GcConfig gc, Shutdown shutdown, Warmup warmup,
                           SharedBackends shared) {

    // A repository path component in the distribution grammar: a hosted namespace is one.
    private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");

    public MirrorConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(dataDir, "dataDir");
        storage = storage == null ? Storage.defaults() : storage;
        limits = limits == null ? Limits.defaults() : limits;
        upstreams = upstreams == null ? List.of() : List.copyOf(upstreams);
        hosted = hosted == null ? List.of() : List.copyOf(hosted);
        pullThrough = pullThrough == null ? PullThrough.defaults() : pullThrough;
        tls = tls == null ? TlsConfig.defaults() : tls;
        auth = auth == null ? AuthConfig.disabled() : auth;
        observability = observability == null ? ObservabilityConfig.defaults() : observability;
        cache = cache == null ? CacheConfig.defaults() : cache;
        gc = gc == null ? GcConfig.defaults() : gc;
        shutdown = shutdown == null ? Shutdown.defaults() : shutdown;
        warmup = warmup == null ? Warmup.defaults() : warmup;
        checkRouting(upstreams, hosted);
    }

    /** As the canonical constructor, a single node. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits, List<UpstreamConfig> upstreams,
                        List<String> hosted, PullThrough pullThrough, TlsConfig tls, AuthConfig auth,
                        ObservabilityConfig observability, CacheConfig cache, GcConfig gc, Shutdown shutdown,
                        Warmup warmup) {
        this(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, gc,
                shutdown, warmup, null);
    }

    /** As the canonical constructor, with the default warm-up. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits, List<UpstreamConfig> upstreams,
                        List<String> hosted, PullThrough pullThrough, TlsConfig tls, AuthConfig auth,
                        ObservabilityConfig observability, CacheConfig cache, GcConfig gc, Shutdown shutdown) {
        this(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, gc,
                shutdown, null);
    }

    /** As the canonical constructor, with the default shutdown. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits, List<UpstreamConfig> upstreams,
                        List<String> hosted, PullThrough pullThrough, TlsConfig tls, AuthConfig auth,
                        ObservabilityConfig observability, CacheConfig cache, GcConfig gc) {
        this(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, gc, null);
    }

    /** As the canonical constructor, with the default metrics, logs, cache and garbage collection. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits, List<UpstreamConfig> upstreams,
                        List<String> hosted, PullThrough pullThrough, TlsConfig tls, AuthConfig auth) {
        this(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, null, null, null);
    }

    /** As the canonical constructor, with the default metrics and log settings. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits, List<UpstreamConfig> upstreams,
                        List<String> hosted, PullThrough pullThrough, TlsConfig tls, AuthConfig auth,
                        CacheConfig cache, GcConfig gc) {
        this(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, null, cache, gc);
    }

    /** A configuration without upstreams: a plain registry, HTTPS with a generated CA, no client authentication. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits) {
        this(listen, dataDir, storage, limits, null, null, null, null, null, null, null, null);
    }

    /** As the canonical constructor, with the default metrics and log settings, cache and garbage collection. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits, List<UpstreamConfig> upstreams,
                        List<String> hosted, PullThrough pullThrough, TlsConfig tls, AuthConfig auth,
                        ObservabilityConfig observability) {
        this(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, null, null);
    }

    /**
     * A plain registry on 0.0.0.0:5000 with data in {@code ./data}: no upstream, everything hosted,
     * HTTPS with the CA generated under {@code ./data/pki}.
     */
    public static MirrorConfig defaults() {
        return new MirrorConfig(new Listen("0.0.0.0", 5000), Path.of("data"), Storage.defaults(), Limits.defaults());
    }

    /**
     * What {@code serve} runs without {@code --config}: {@link #defaults()} (so HTTPS with a
     * generated CA) plus Docker Hub (the default upstream, with its implicit {@code library/}),
     * gcr.io, ghcr.io, quay.io and registry.k8s.io, all anonymous, and the hosted namespace
     * {@code local} so that pushes work out of the box. Each upstream is named after its public host name, so cache keys
     * read {@code docker.io/library/nginx}, and a name with a dot can never shadow a Docker Hub
     * user (those have none).
     */
    public static MirrorConfig embedded() {
        List<UpstreamConfig> ups = List.of(
                UpstreamConfig.builder("docker.io", "https://registry-1.docker.io")
                        .aliases("docker.io", "registry-1.docker.io", "index.docker.io").isDefault(true).build(),
                UpstreamConfig.builder("gcr.io", "https://gcr.io").aliases("gcr.io").build(),
                UpstreamConfig.builder("ghcr.io", "https://ghcr.io").aliases("ghcr.io").build(),
                UpstreamConfig.builder("quay.io", "https://quay.io").aliases("quay.io").build(),
                UpstreamConfig.builder("registry.k8s.io", "https://registry.k8s.io").aliases("registry.k8s.io").build());
        return defaults().withRouting(ups, List.of("local"));
    }

    public MirrorConfig withListen(Listen l) {
        return new MirrorConfig(l, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, gc, shutdown, warmup, shared);
    }

    public MirrorConfig withDataDir(Path d) {
        return new MirrorConfig(listen, d, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, gc, shutdown, warmup, shared);
    }

    /** This configuration with other upstreams and hosted namespaces. */
    public MirrorConfig withRouting(List<UpstreamConfig> u, List<String> h) {
        return new MirrorConfig(listen, dataDir, storage, limits, u, h, pullThrough, tls, auth, observability, cache, gc, shutdown, warmup, shared);
    }

    public MirrorConfig withPullThrough(PullThrough p) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, p, tls, auth, observability, cache, gc, shutdown, warmup, shared);
    }

    /** This configuration with another TLS setting ({@link TlsConfig#off()} for plain HTTP). */
    public MirrorConfig withTls(TlsConfig t) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, t, auth, observability, cache, gc, shutdown, warmup, shared);
    }

    /** This configuration with another client authentication setting. */
    public MirrorConfig withAuth(AuthConfig a) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, a, observability, cache, gc, shutdown, warmup, shared);
    }

    /** This configuration with other metrics and log settings. */
    public MirrorConfig withObservability(ObservabilityConfig o) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, o, cache, gc, shutdown, warmup, shared);
    }

    /** This configuration with another cache bound and pins. */
    public MirrorConfig withCache(CacheConfig c) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, c, gc, shutdown, warmup, shared);
    }

    /** This configuration with other garbage collection settings. */
    public MirrorConfig withGc(GcConfig g) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, g, shutdown, warmup, shared);
    }

    /** This configuration with another shutdown grace period. */
    public MirrorConfig withShutdown(Shutdown s) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability, cache, gc, s, warmup, shared);
    }

    /** The default upstream, if one is marked {@code default: true}. */
    public Optional<UpstreamConfig> defaultUpstream() {
        return upstreams.stream().filter(UpstreamConfig::isDefault).findFirst();
    }

    /** Whether {@code s} may be a hosted namespace: one lower-case repository path component. */
    public static boolean isValidNamespace(String s) {
        return s != null && s.length() <= 255 && COMPONENT.matcher(s).matches();
    }

    /**
     * The cross-field rules: at most one default, unique names, no name or alias selecting two
     * upstreams, no hosted namespace that also selects an upstream.
     */
    private static void checkRouting(List<UpstreamConfig> upstreams, List<String> hosted) {
        Map<String, String> selectorOwner = new HashMap<>();   // alias or name -> "upstream 'x'"
        String firstDefault = null;
        for (int i = 0; i < upstreams.size(); i++) {
            UpstreamConfig u = Objects.requireNonNull(upstreams.get(i), "upstreams[" + i + "]");
            String at = "upstreams[" + i + "]";
            if (u.isDefault()) {
                if (firstDefault != null) {
                    throw new IllegalArgumentException(at + ".default: only one upstream may be the default, and "
                            + firstDefault + " already is");
                }
                firstDefault = "upstream '" + u.name() + "'";
            }
            String owner = selectorOwner.get(u.name());
            if (owner != null) {
                throw new IllegalArgumentException(at + ".name: '" + u.name() + "' is already used by " + owner);
            }
            for (int j = 0; j < u.aliases().size(); j++) {
                String a = u.aliases().get(j);
                owner = selectorOwner.get(a);
                if (owner != null) {
                    throw new IllegalArgumentException(at + ".aliases[" + j + "]: '" + a + "' is already used by " + owner);
                }
            }
            for (String s : u.selectors()) {
                selectorOwner.put(s, "upstream '" + u.name() + "'");
            }
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < hosted.size(); i++) {
            String h = hosted.get(i);
            String at = "hosted[" + i + "]: ";
            if (!isValidNamespace(h)) {
                throw new IllegalArgumentException(at + "'" + h + "' is not a lower-case repository path component");
            }
            if (!seen.add(h)) {
                throw new IllegalArgumentException(at + "'" + h + "' is listed twice");
            }
            String owner = selectorOwner.get(h);
            if (owner != null) {
                throw new IllegalArgumentException(at + "'" + h + "' is also the name or an alias of " + owner
                        + "; a hosted namespace is never proxied");
            }
        }
    }

    /**
     * @param prefetchLayers   after fetching an image manifest, fetch its layers in the background
     * @param negativeCacheTtl how long an upstream 404 is remembered (zero: not at all)
     * @param prefetch         images (as clients name them: {@code gcr.io/team/app:1}) pulled
     *                         through in the background at every start, all platforms unless
     *                         {@code prefetchPlatforms} names some
     * @param prefetchPlatforms {@code os/architecture[/variant]} ({@code linux/amd64}): when set,
     *                         an index fetched upstream has these platforms' images (manifests,
     *                         configs, layers) fetched in the background, and only these; the
     *                         index itself is stored and served as it came. Empty: an index
     *                         prefetches nothing (each node asks for its platform's manifest)
     */
    public record PullThrough(boolean prefetchLayers, Duration negativeCacheTtl, List<String> prefetch,
                              List<String> prefetchPlatforms) {
        public static final Duration DEFAULT_NEGATIVE_CACHE_TTL = Duration.ofSeconds(30);
        // A loose image reference ([host[:port]/]path[:tag][@digest]): typos fail at load, the server parses it fully.
        private static final Pattern IMAGE = Pattern.compile("(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
                + "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
                + "(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)?");
        // os/architecture[/variant], lower case, as the server's Platform parses it.
        private static final Pattern PLATFORM = Pattern.compile("[a-z0-9._-]+/[a-z0-9._-]+(?:/[a-z0-9._-]+)?");

        public PullThrough {
            negativeCacheTtl = negativeCacheTtl == null ? DEFAULT_NEGATIVE_CACHE_TTL : negativeCacheTtl;
            if (negativeCacheTtl.isNegative()) {
                throw new IllegalArgumentException("pullThrough.negativeCacheTtl: must not be negative");
            }
            prefetch = prefetch == null ? List.of() : List.copyOf(prefetch);
            for (int i = 0; i < prefetch.size(); i++) {
                if (!IMAGE.matcher(prefetch.get(i)).matches()) {
                    throw new IllegalArgumentException("pullThrough.prefetch[" + i + "]: '" + prefetch.get(i)
                            + "' is not an image name such as gcr.io/team/app:1 or nginx");
                }
            }
            prefetchPlatforms = prefetchPlatforms == null ? List.of() : List.copyOf(prefetchPlatforms);
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < prefetchPlatforms.size(); i++) {
                String p = prefetchPlatforms.get(i);
                String at = "pullThrough.prefetchPlatforms[" + i + "]: '" + p + "' ";
                if (!PLATFORM.matcher(p).matches()) {
                    throw new IllegalArgumentException(at + "is not a platform os/architecture[/variant] in lower"
                            + " case, such as linux/amd64 or linux/arm64/v8");
                }
                if (!seen.add(p)) {
                    throw new IllegalArgumentException(at + "is listed twice");
                }
            }
        }

        /** Every platform of an index prefetched at start; none after a client's index fetch. */
        public PullThrough(boolean prefetchLayers, Duration negativeCacheTtl, List<String> prefetch) {
            this(prefetchLayers, negativeCacheTtl, prefetch, List.of());
        }

        /** No prefetch list. */
        public PullThrough(boolean prefetchLayers, Duration negativeCacheTtl) {
            this(prefetchLayers, negativeCacheTtl, List.of());
        }

        public static PullThrough defaults() {
            return new PullThrough(true, DEFAULT_NEGATIVE_CACHE_TTL);
        }
    }

    /**
     * How a stop (SIGTERM) ends: the listener closes at once, idle connections are closed, and
     * requests in flight (a node pulling a large layer, an upload) get up to {@code gracePeriod}
     * to finish before the connections still open are cut.
     *
     * @param gracePeriod how long a stop waits for requests in flight; {@link Duration#ZERO}: cut them at once
     */
    public record Shutdown(Duration gracePeriod) {
        public static final Duration DEFAULT_GRACE = Duration.ofSeconds(30);

        public Shutdown {
            Objects.requireNonNull(gracePeriod, "gracePeriod");
            if (gracePeriod.isNegative()) {
                throw new IllegalArgumentException("shutdown.gracePeriod: must not be negative");
            }
        }

        public static Shutdown defaults() {
            return new Shutdown(DEFAULT_GRACE);
        }
    }

    /**
     * The warm-up of {@code serve} (see the server's {@code Warmup}): before {@code /readyz}
     * turns ready, the request paths are run by throw-away servers in {@code <data>/.warmup} until
     * the JIT has compiled them, so that a fresh replica serves at its warm rate from its first
     * request. The server listens and answers meanwhile.
     *
     * @param enabled     whether {@code serve} warms up (commands and tests never do)
     * @param maxDuration the longest the warm-up may keep the server not ready
     */
    public record Warmup(boolean enabled, Duration maxDuration) {
        public static final Duration DEFAULT_MAX = Duration.ofSeconds(30);

        public Warmup {
            Objects.requireNonNull(maxDuration, "maxDuration");
            if (maxDuration.isNegative() || maxDuration.isZero()) {
                throw new IllegalArgumentException("warmup.maxDuration: must be positive");
            }
        }

        public static Warmup defaults() {
            return new Warmup(true, DEFAULT_MAX);
        }
    }

    public MirrorConfig withWarmup(Warmup w) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability,
                cache, gc, shutdown, w, shared);
    }

    public MirrorConfig withShared(SharedBackends s) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth, observability,
                cache, gc, shutdown, warmup, s);
    }

    /** Where to bind; port 0 picks a free port (tests). */
    public record Listen(String host, int port) {
        public Listen {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
        }

        /** Parses {@code HOST:PORT}, {@code :PORT} or {@code [v6]:PORT}. */
        public static Listen parse(String s) {
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("expected HOST:PORT, got '" + s + "'");
            }
            String host = s.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(s.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("expected HOST:PORT, got '" + s + "'");
            }
            return new Listen(host.isEmpty() ? "0.0.0.0" : host, port);
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /** @param deleteEnabled whether {@code DELETE} of manifests, tags and blobs is allowed */
    public record Storage(boolean deleteEnabled) {
        public static Storage defaults() {
            return new Storage(true);
        }
    }

    /**
     * @param maxManifestBytes largest manifest accepted on push (the spec suggests 4 MiB)
     * @param maxHeaderBytes   largest request line plus headers
     * @param maxUploadBytes   largest single blob upload
     * @param idleTimeoutSeconds connections idle this long are closed
     * @param requestHeadTimeout the longest a request head (request line and headers) may take to
     *                         arrive whole: from the connection's accept for its first request (the
     *                         TLS handshake included), from the head's first byte for the next ones;
     *                         then {@code 408} and the connection is closed. Not reset by each byte,
     *                         as nginx's {@code client_header_timeout} and Go's {@code ReadHeaderTimeout}
     *                         are not. null: {@link #DEFAULT_REQUEST_HEAD_TIMEOUT}
     * @param requestBodyTimeout the longest gap between two reads of a request body while the server
     *                         is reading it (nginx's {@code client_body_timeout}); then {@code 408}, or a
     *                         plain close if a response has already begun. null: {@link #DEFAULT_REQUEST_BODY_TIMEOUT}
     */
    public record Limits(int maxManifestBytes, int maxHeaderBytes, long maxUploadBytes, int idleTimeoutSeconds,
                         Duration requestHeadTimeout, Duration requestBodyTimeout) {
        public static final Duration DEFAULT_REQUEST_HEAD_TIMEOUT = Duration.ofSeconds(30);
        public static final Duration DEFAULT_REQUEST_BODY_TIMEOUT = Duration.ofSeconds(60);

        public Limits {
            requestHeadTimeout = positive("limits.requestHeadTimeout", requestHeadTimeout, DEFAULT_REQUEST_HEAD_TIMEOUT);
            requestBodyTimeout = positive("limits.requestBodyTimeout", requestBodyTimeout, DEFAULT_REQUEST_BODY_TIMEOUT);
        }

        /** With the default request head and body timeouts. */
        public Limits(int maxManifestBytes, int maxHeaderBytes, long maxUploadBytes, int idleTimeoutSeconds) {
            this(maxManifestBytes, maxHeaderBytes, maxUploadBytes, idleTimeoutSeconds, null, null);
        }

        public static Limits defaults() {
            return new Limits(4 * 1024 * 1024, 16 * 1024, 64L * 1024 * 1024 * 1024, 300);
        }

        /** These limits with other request head and body timeouts (null: the default). */
        public Limits withRequestTimeouts(Duration head, Duration body) {
            return new Limits(maxManifestBytes, maxHeaderBytes, maxUploadBytes, idleTimeoutSeconds, head, body);
        }

        private static Duration positive(String field, Duration d, Duration fallback) {
            if (d == null) {
                return fallback;
            }
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(field + ": must be positive, got " + d);
            }
            return d;
        }
    }
}
