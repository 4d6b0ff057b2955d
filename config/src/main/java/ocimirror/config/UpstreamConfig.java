package ocimirror.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One upstream registry the mirror proxies, immutable and validated on construction.
 * Null optional components take the defaults below, so a loader only passes what the file
 * says.
 *
 * @param name        short unique name, used in logs, metrics and as the first segment of the
 *                    cache key of everything fetched from it ({@code <name>/<repo>}), so it is
 *                    a lower-case repository path component; also matched like an alias
 * @param url         {@code https://host[:port]}, or {@code http://} when {@code plainHttp}
 * @param aliases     host names clients use for it ({@code gcr.io}), matched against {@code ns}
 *                    and the first path segment; lower case
 * @param isDefault   whether requests that name no upstream go here
 * @param caCert      PEM file of extra CAs trusted for this upstream (on top of the system
 *                    trust), or null
 * @param credentials where the mirror's own credentials for it come from
 * @param tagTtl      how long a tag resolution is served without revalidating (zero: always)
 * @param plainHttp   the upstream speaks HTTP without TLS
 * @param timeouts    connect, first-byte and idle-read timeouts
 * @param maxRetries  retries after the first attempt on connect failures, 5xx and 429
 * @param rules       which of its repositories may be proxied ({@code allow}, {@code deny});
 *                    null: all of them
 * @param limits      connections and bandwidth the mirror may use; null: unlimited
 * @param urls        the URLs tried in order, failing over from one to the next ({@code urls});
 *                    the first is {@code url} with {@code caCert} and {@code credentials}. Null:
 *                    that one URL alone
 * @param authorization who decides whether a client may read its repositories (the mirror's own
 *                    client authentication, or the upstream with the client's credentials);
 *                    null: the mirror
 */
public record UpstreamConfig(
        String name,
        URI url,
        List<String> aliases,
        boolean isDefault,
        Path caCert,
        CredentialSource credentials,
        Duration tagTtl,
        boolean plainHttp,
        Timeouts timeouts,
        int maxRetries,
        RepoRules rules,
        UpstreamLimits limits,
        List<UpstreamUrl> urls,
        ClientAuthorization authorization) {

    public static final Duration DEFAULT_TAG_TTL = Duration.ofMinutes(10);
    public static final int DEFAULT_MAX_RETRIES = 2;
    public static final int MAX_RETRIES_LIMIT = 10;

    public static final int MAX_NAME_LENGTH = 64;
    // A repository path component (a subset of the distribution grammar): the name prefixes
    // cache keys, so it must be one. No upper case, no leading or doubled separators.
    private static final Pattern NAME = Pattern.compile("[a-z0-9]+(?:[._-][a-z0-9]+)*");
    /** Hosts whose registry has Docker Hub's implicit {@code library/} namespace. */
    private static final Set<String> DOCKER_HUB_HOSTS = Set.of("registry-1.docker.io", "docker.io", "index.docker.io");
    // A host name (or IPv4), optionally with a port: what containerd puts into ?ns=.
    private static final Pattern ALIAS = Pattern.compile(
            "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?");

    public UpstreamConfig {
        if (!isValidName(name)) {
            throw new IllegalArgumentException("upstream name '" + name + "' " + NAME_RULE);
        }
        Objects.requireNonNull(url, "upstream '" + name + "': url");
        checkUrl(name, url, plainHttp);
        aliases = aliases == null ? List.of() : List.copyOf(aliases);
        Set<String> seen = new HashSet<>();
        for (String a : aliases) {
            if (!isValidAlias(a)) {
                throw new IllegalArgumentException("upstream '" + name + "': alias '" + a
                        + "' is not a lower-case host name (optionally with :port)");
            }
            if (!seen.add(a)) {
                throw new IllegalArgumentException("upstream '" + name + "': alias '" + a + "' is listed twice");
            }
        }
        credentials = credentials == null ? CredentialSource.none() : credentials;
        tagTtl = tagTtl == null ? DEFAULT_TAG_TTL : tagTtl;
        if (tagTtl.isNegative()) {
            throw new IllegalArgumentException("upstream '" + name + "': tagTtl must not be negative");
        }
        timeouts = timeouts == null ? Timeouts.defaults() : timeouts;
        if (maxRetries < 0 || maxRetries > MAX_RETRIES_LIMIT) {
            throw new IllegalArgumentException("upstream '" + name + "': maxRetries must be 0.." + MAX_RETRIES_LIMIT
                    + ", got " + maxRetries);
        }
        rules = rules == null ? RepoRules.none() : rules;
        limits = limits == null ? UpstreamLimits.none() : limits;
        authorization = authorization == null ? ClientAuthorization.mirror() : authorization;
        urls = urls == null ? List.of(new UpstreamUrl(url, caCert, credentials)) : checkUrls(name, urls, plainHttp);
        UpstreamUrl first = urls.get(0);
        if (!first.url().equals(url) || !Objects.equals(first.caCert(), caCert)
                || !first.credentials().equals(credentials)) {
            throw new IllegalArgumentException("upstream '" + name + "': url, caCert and credentials must be those"
                    + " of urls[0]");
        }
    }

    /**
     * Without repository rules, limits, further URLs or delegated authorization: what a caller
     * that builds one plain upstream in code needs (the loader and the builder use the canonical
     * constructor).
     */
    public UpstreamConfig(String name, URI url, List<String> aliases, boolean isDefault, Path caCert,
                          CredentialSource credentials, Duration tagTtl, boolean plainHttp, Timeouts timeouts,
                          int maxRetries) {
        this(name, url, aliases, isDefault, caCert, credentials, tagTtl, plainHttp, timeouts, maxRetries, null, null,
                null, null);
    }

    /** What {@link #isValidName} wants, worded for an error message. */
    public static final String NAME_RULE = "is not a lower-case name of letters and digits separated by single"
            + " '.', '_' or '-' (at most " + MAX_NAME_LENGTH + " characters)";

    /** Whether {@code name} may name an upstream: a lower-case repository path component. */
    public static boolean isValidName(String name) {
        return name != null && name.length() <= MAX_NAME_LENGTH && NAME.matcher(name).matches();
    }

    /** Whether {@code host} (as in a url) is Docker Hub's, whose names get the implicit {@code library/}. */
    public static boolean isDockerHubHost(String host) {
        return host != null && DOCKER_HUB_HOSTS.contains(host.toLowerCase(Locale.ROOT));
    }

    /** Whether {@code alias} is a lower-case host name or IPv4 address, optionally with {@code :port}. */
    public static boolean isValidAlias(String alias) {
        return alias != null && alias.length() <= 255 && ALIAS.matcher(alias).matches();
    }

    private static List<UpstreamUrl> checkUrls(String name, List<UpstreamUrl> urls, boolean plainHttp) {
        List<UpstreamUrl> copy = List.copyOf(urls);
        if (copy.isEmpty()) {
            throw new IllegalArgumentException("upstream '" + name + "': urls must not be empty");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < copy.size(); i++) {
            String problem = urlProblem(copy.get(i).url(), plainHttp);
            if (problem != null) {
                throw new IllegalArgumentException("upstream '" + name + "': urls[" + i + "] " + problem);
            }
            if (!seen.add(copy.get(i).origin())) {
                throw new IllegalArgumentException("upstream '" + name + "': urls[" + i + "] '" + copy.get(i).url()
                        + "' is listed twice");
            }
        }
        return copy;
    }

    /**
     * This upstream as if URL {@code index} of {@link #urls} were its only one, with that URL's
     * CA and credentials: what one URL's client, and {@code doctor}'s checks of it, are built from.
     */
    public UpstreamConfig forUrl(int index) {
        UpstreamUrl u = urls.get(index);
        return new UpstreamConfig(name, u.url(), aliases, isDefault, u.caCert(), u.credentials(), tagTtl, plainHttp,
                timeouts, maxRetries, rules, limits, null, authorization);
    }

    /** The same upstream with {@code n} retries. */
    public UpstreamConfig withMaxRetries(int n) {
        return new UpstreamConfig(name, url, aliases, isDefault, caCert, credentials, tagTtl, plainHttp, timeouts, n,
                rules, limits, urls, authorization);
    }

    /** Whether any of {@code urls} is Docker Hub's: then names get the implicit {@code library/}. */
    public static boolean anyDockerHub(List<UpstreamUrl> urls) {
        return urls.stream().anyMatch(u -> isDockerHubHost(u.url().getHost()));
    }

    private static void checkUrl(String name, URI url, boolean plainHttp) {
        String problem = urlProblem(url, plainHttp);
        if (problem != null) {
            throw new IllegalArgumentException("upstream '" + name + "': url " + problem);
        }
    }

    /**
     * What is wrong with {@code url} as an upstream's url, worded after the quoted url
     * ({@code "'http://x' must start with https:// ..."}), or null if nothing is.
     */
    public static String urlProblem(URI url, boolean plainHttp) {
        String where = "'" + url + "' ";
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        String expected = plainHttp ? "http" : "https";
        if (!scheme.equals(expected)) {
            return where + (plainHttp
                    ? "must start with http:// because plainHttp is true"
                    : "must start with https:// (set plainHttp: true for an upstream without TLS)");
        }
        if (url.getHost() == null) {
            return where + "has no host";
        }
        if (url.getRawUserInfo() != null) {
            return where + "must not hold credentials; use credentials.passwordFile or a docker config.json";
        }
        String path = url.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            return where + "must not have a path (the registry API lives at /v2/)";
        }
        if (url.getRawQuery() != null || url.getRawFragment() != null) {
            return where + "must not have a query or fragment";
        }
        return null;
    }

    /** A builder with every optional component at its default. */
    public static Builder builder(String name, String url) {
        return new Builder(name, url);
    }

    /** The host as written in the url (IPv6 literals keep their brackets), lower case. */
    public String host() {
        return url.getHost().toLowerCase(Locale.ROOT);
    }

    /** The port to connect to, the scheme's default when the url names none. */
    public int port() {
        return url.getPort() >= 0 ? url.getPort() : plainHttp ? 80 : 443;
    }

    /** {@code host} or {@code host:port} when the port is not the scheme's default: the Host header and credential key. */
    public String authority() {
        boolean defaultPort = url.getPort() < 0 || url.getPort() == (plainHttp ? 80 : 443);
        return defaultPort ? host() : host() + ":" + url.getPort();
    }

    /**
     * Whether single-segment repository names get Docker Hub's implicit {@code library/}
     * prefix ({@code nginx} is {@code library/nginx}): true when any of its URLs is Docker Hub's
     * (a mirror of Docker Hub failing over to it serves the same names).
     */
    public boolean implicitLibraryPrefix() {
        return anyDockerHub(urls);
    }

    /** The name and the aliases, the strings a request may use to select this upstream. */
    public List<String> selectors() {
        if (aliases.contains(name)) {
            return aliases;
        }
        List<String> all = new ArrayList<>(aliases.size() + 1);
        all.addAll(aliases);
        all.add(name);
        return List.copyOf(all);
    }

    /**
     * @param connect   TCP connect plus TLS handshake
     * @param firstByte from the request being sent to the response headers
     * @param idle      longest silence while reading a body (not counting time the consumer holds us back)
     */
    public record Timeouts(Duration connect, Duration firstByte, Duration idle) {
        public Timeouts {
            requirePositive(connect, "connect");
            requirePositive(firstByte, "firstByte");
            requirePositive(idle, "idle");
        }

        public static Timeouts defaults() {
            return new Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60));
        }

        private static void requirePositive(Duration d, String what) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeout " + what + " must be positive, got " + d);
            }
        }
    }

    /** Fluent construction for code and tests; the record constructor does the validation. */
    public static final class Builder {
        private final String name;
        private final String url;
        private List<String> aliases = List.of();
        private boolean isDefault;
        private Path caCert;
        private CredentialSource credentials = CredentialSource.none();
        private Duration tagTtl = DEFAULT_TAG_TTL;
        private boolean plainHttp;
        private Timeouts timeouts = Timeouts.defaults();
        private int maxRetries = DEFAULT_MAX_RETRIES;
        private List<String> allow;
        private List<String> deny;
        private int maxConnections;
        private long maxBandwidth;
        private final List<UpstreamUrl> failover = new ArrayList<>();
        private ClientAuthorization authorization;

        private Builder(String name, String url) {
            this.name = name;
            this.url = Objects.requireNonNull(url, "url");
        }

        public Builder aliases(String... a) {
            aliases = List.of(a);
            return this;
        }

        public Builder isDefault(boolean d) {
            isDefault = d;
            return this;
        }

        public Builder caCert(Path p) {
            caCert = p;
            return this;
        }

        public Builder credentials(CredentialSource c) {
            credentials = c;
            return this;
        }

        public Builder tagTtl(Duration d) {
            tagTtl = d;
            return this;
        }

        public Builder plainHttp(boolean p) {
            plainHttp = p;
            return this;
        }

        public Builder timeouts(Timeouts t) {
            timeouts = t;
            return this;
        }

        public Builder maxRetries(int n) {
            maxRetries = n;
            return this;
        }

        /** Only these repositories (globs on the path at the upstream) may be proxied. */
        public Builder allow(String... globs) {
            allow = List.of(globs);
            return this;
        }

        /** These repositories (globs) may not be proxied, whatever {@link #allow} says. */
        public Builder deny(String... globs) {
            deny = List.of(globs);
            return this;
        }

        /** At most {@code n} requests in flight to the upstream; 0: unlimited. */
        public Builder maxConnections(int n) {
            maxConnections = n;
            return this;
        }

        /** At most {@code bytesPerSecond} of blob downloads from the upstream; 0: unlimited. */
        public Builder maxBandwidth(long bytesPerSecond) {
            maxBandwidth = bytesPerSecond;
            return this;
        }

        /** Further URLs, after the first, to fail over to in this order. */
        public Builder failover(UpstreamUrl... more) {
            failover.addAll(List.of(more));
            return this;
        }

        /** Who decides whether a client may read its repositories. */
        public Builder authorization(ClientAuthorization a) {
            authorization = a;
            return this;
        }

        public UpstreamConfig build() {
            URI u;
            try {
                u = new URI(url);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("upstream '" + name + "': url '" + url + "' is not a URI: "
                        + e.getReason());
            }
            List<UpstreamUrl> urls = null;
            if (!failover.isEmpty()) {
                urls = new ArrayList<>(List.of(new UpstreamUrl(u, caCert, credentials)));
                urls.addAll(failover);
            }
            RepoRules rules;
            try {
                rules = RepoRules.of(allow, deny, isDockerHubHost(u.getHost())
                        || (urls != null && anyDockerHub(urls)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("upstream '" + name + "': " + e.getMessage());
            }
            UpstreamLimits limits;
            try {
                limits = new UpstreamLimits(maxConnections, maxBandwidth);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("upstream '" + name + "': " + e.getMessage());
            }
            return new UpstreamConfig(name, u, aliases, isDefault, caCert, credentials, tagTtl, plainHttp,
                    timeouts, maxRetries, rules, limits, urls,
                    authorization);
        }
    }
}
