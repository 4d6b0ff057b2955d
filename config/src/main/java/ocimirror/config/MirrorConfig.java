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
 */
public record MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits,
                           List<UpstreamConfig> upstreams, List<String> hosted, PullThrough pullThrough,
                           TlsConfig tls, AuthConfig auth) {

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
        checkRouting(upstreams, hosted);
    }

    /** A configuration without upstreams: a plain registry, HTTPS with a generated CA, no client authentication. */
    public MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits) {
        this(listen, dataDir, storage, limits, null, null, null, null, null);
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
        return new MirrorConfig(l, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, auth);
    }

    public MirrorConfig withDataDir(Path d) {
        return new MirrorConfig(listen, d, storage, limits, upstreams, hosted, pullThrough, tls, auth);
    }

    /** This configuration with other upstreams and hosted namespaces. */
    public MirrorConfig withRouting(List<UpstreamConfig> u, List<String> h) {
        return new MirrorConfig(listen, dataDir, storage, limits, u, h, pullThrough, tls, auth);
    }

    public MirrorConfig withPullThrough(PullThrough p) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, p, tls, auth);
    }

    /** This configuration with another TLS setting ({@link TlsConfig#off()} for plain HTTP). */
    public MirrorConfig withTls(TlsConfig t) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, t, auth);
    }

    /** This configuration with another client authentication setting. */
    public MirrorConfig withAuth(AuthConfig a) {
        return new MirrorConfig(listen, dataDir, storage, limits, upstreams, hosted, pullThrough, tls, a);
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
     */
    public record PullThrough(boolean prefetchLayers, Duration negativeCacheTtl) {
        public static final Duration DEFAULT_NEGATIVE_CACHE_TTL = Duration.ofSeconds(30);

        public PullThrough {
            negativeCacheTtl = negativeCacheTtl == null ? DEFAULT_NEGATIVE_CACHE_TTL : negativeCacheTtl;
            if (negativeCacheTtl.isNegative()) {
                throw new IllegalArgumentException("pullThrough.negativeCacheTtl: must not be negative");
            }
        }

        public static PullThrough defaults() {
            return new PullThrough(true, DEFAULT_NEGATIVE_CACHE_TTL);
        }
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
     */
    public record Limits(int maxManifestBytes, int maxHeaderBytes, long maxUploadBytes, int idleTimeoutSeconds) {
        public static Limits defaults() {
            return new Limits(4 * 1024 * 1024, 16 * 1024, 64L * 1024 * 1024 * 1024, 300);
        }
    }
}
