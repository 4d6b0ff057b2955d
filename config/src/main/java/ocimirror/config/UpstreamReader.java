package ocimirror.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns the {@code upstreams:} entries of a configuration file into {@link UpstreamConfig}s,
 * every error naming the file and the field ({@code upstreams[1].aliases[0]: ...}). File
 * references (caCert, dockerConfig, passwordFile) are resolved against the configuration
 * file's directory and must name readable regular files; their content is read later, when the
 * upstream client is built or by {@code config check}.
 */
final class UpstreamReader {

    /** How long a helper's answer is used when {@code lifetime} is not given. */
    static final Duration DEFAULT_HELPER_LIFETIME = Duration.ofMinutes(10);

    private final String source;
    private final Path baseDir;
    private final String pathVariable;

    UpstreamReader(String source, Path baseDir) {
        this(source, baseDir, System.getenv("PATH"));
    }

    /** @param pathVariable where credential helpers are looked up, in the format of {@code PATH} */
    UpstreamReader(String source, Path baseDir, String pathVariable) {
        this.source = source;
        this.baseDir = baseDir;
        this.pathVariable = pathVariable;
    }

    UpstreamConfig read(UpstreamSection s, int index) throws ConfigException {
        String at = "upstreams[" + index + "]";
        if (s == null) {
            throw error(at, "must be a mapping");
        }
        if (s.name() == null) {
            throw error(at + ".name", "missing");
        }
        if (!UpstreamConfig.isValidName(s.name())) {
            throw error(at + ".name", "'" + s.name() + "' " + UpstreamConfig.NAME_RULE);
        }
        boolean plainHttp = Boolean.TRUE.equals(s.plainHttp());
        List<UpstreamUrl> urls = s.urls() == null ? null : new FailoverUrlReader(this).read(at, s, plainHttp);
        if (s.url() == null && urls == null) {
            throw error(at + ".url", "missing (or give urls)");
        }
        URI url = urls != null ? urls.get(0).url() : uri(at + ".url", s.url(), plainHttp);
        List<String> aliases = s.aliases() == null ? List.of() : s.aliases();
        Set<String> seen = new HashSet<>();
        for (int j = 0; j < aliases.size(); j++) {
            String a = aliases.get(j);
            String field = at + ".aliases[" + j + "]";
            if (!UpstreamConfig.isValidAlias(a)) {
                throw error(field, "'" + a + "' is not a lower-case host name (optionally with :port)");
            }
            if (!seen.add(a)) {
                throw error(field, "'" + a + "' is listed twice");
            }
        }
        Path caCert = urls != null ? urls.get(0).caCert() : s.caCert() == null ? null : file(at + ".caCert", s.caCert());
        Duration tagTtl = s.tagTtl() == null ? UpstreamConfig.DEFAULT_TAG_TTL : duration(at + ".tagTtl", s.tagTtl());
        int maxRetries = s.maxRetries() == null ? UpstreamConfig.DEFAULT_MAX_RETRIES : s.maxRetries();
        if (maxRetries < 0 || maxRetries > UpstreamConfig.MAX_RETRIES_LIMIT) {
            throw error(at + ".maxRetries", "must be 0.." + UpstreamConfig.MAX_RETRIES_LIMIT + ", got " + maxRetries);
        }
        RepoRules rules = rules(at, s.allow(), s.deny(), urls != null ? UpstreamConfig.anyDockerHub(urls)
                : UpstreamConfig.isDockerHubHost(url.getHost()));
        CredentialSource credentials = urls != null ? urls.get(0).credentials()
                : credentials(at + ".credentials", s.credentials());
        UpstreamLimits limits = limits(at, s.maxConnections(), s.maxBandwidth());
        ClientAuthorization authorization = authorization(at, s.authorization(), s.authorizationTtl());
        try {
            return new UpstreamConfig(s.name(), url, aliases, Boolean.TRUE.equals(s.isDefault()), caCert,
                    credentials, tagTtl, plainHttp, timeouts(at + ".timeouts", s.timeouts()), maxRetries, rules, limits,
                    urls, authorization);
        } catch (IllegalArgumentException e) {
            throw error(at, e.getMessage());   // a rule checked only by the record itself
        }
    }

    /** {@code value} as an upstream URL, or an error naming {@code at}. */
    URI uri(String at, String value, boolean plainHttp) throws ConfigException {
        URI url;
        try {
            url = new URI(value);
        } catch (URISyntaxException e) {
            throw error(at, "'" + value + "' is not a URI: " + e.getReason());
        }
        String problem = UpstreamConfig.urlProblem(url, plainHttp);
        if (problem != null) {
            throw error(at, problem);
        }
        return url;
    }

    private RepoRules rules(String at, List<String> allow, List<String> deny, boolean dockerHub) throws ConfigException {
        noNulls(at + ".allow", allow);
        noNulls(at + ".deny", deny);
        try {
            return RepoRules.of(allow, deny, dockerHub);
        } catch (IllegalArgumentException e) {
            // RepoRules names the field within the upstream: "allow[1]: 'X' ...".
            String m = e.getMessage();
            int colon = m.indexOf(": ");
            throw error(at + "." + m.substring(0, colon), m.substring(colon + 2));
        }
    }

    private UpstreamLimits limits(String at, Integer maxConnections, Object maxBandwidth) throws ConfigException {
        if (maxConnections != null && maxConnections <= 0) {
            throw error(at + ".maxConnections", "must be positive (leave it out for no limit), got " + maxConnections);
        }
        long rate = 0;
        if (maxBandwidth != null) {
            try {
                rate = UpstreamLimits.parseRate(maxBandwidth);
            } catch (IllegalArgumentException e) {
                throw error(at + ".maxBandwidth", e.getMessage());
            }
        }
        return new UpstreamLimits(maxConnections == null ? 0 : maxConnections, rate);
    }

    private ClientAuthorization authorization(String at, String mode, Object ttl) throws ConfigException {
        Boolean upstream = mode == null ? Boolean.FALSE : ClientAuthorization.parseMode(mode);
        if (upstream == null) {
            throw error(at + ".authorization", "expected upstream or mirror, got '" + mode + "'");
        }
        if (ttl == null) {
            return new ClientAuthorization(upstream, null);
        }
        if (!upstream) {
            throw error(at + ".authorizationTtl", "applies only with authorization: upstream");
        }
        Duration d = duration(at + ".authorizationTtl", ttl);
        String problem = ClientAuthorization.ttlProblem(d);
        if (problem != null) {
            throw error(at + ".authorizationTtl", problem);
        }
        return ClientAuthorization.upstream(d);
    }

    private void noNulls(String at, List<String> list) throws ConfigException {
        for (int i = 0; list != null && i < list.size(); i++) {
            if (list.get(i) == null) {
                throw error(at + "[" + i + "]", "expected a string");
            }
        }
    }

    CredentialSource credentials(String at, CredentialsSection c) throws ConfigException {
        if (c == null) {
            return CredentialSource.none();
        }
        if (c.helper() != null || c.lifetime() != null) {
            if (c.dockerConfig() != null || c.username() != null || c.passwordFile() != null) {
                throw error(at, "give one of helper, dockerConfig, or username and passwordFile");
            }
            return helper(at, c);
        }
        if (c.dockerConfig() != null) {
            if (c.username() != null || c.passwordFile() != null) {
                throw error(at, "give either dockerConfig, or username and passwordFile, not both");
            }
            return new CredentialSource.DockerConfig(file(at + ".dockerConfig", c.dockerConfig()));
        }
        if (c.username() == null && c.passwordFile() == null) {
            throw error(at, "give dockerConfig, or username and passwordFile, or helper (leave credentials out"
                    + " for anonymous access)");
        }
        if (c.username() == null || c.username().isEmpty()) {
            throw error(at + ".username", "missing (passwordFile needs it)");
        }
        if (c.username().indexOf(':') >= 0) {
            throw error(at + ".username", "must not contain ':'");
        }
        if (c.passwordFile() == null) {
            throw error(at + ".passwordFile", "missing (username needs it)");
        }
        return new CredentialSource.PasswordFile(c.username(), file(at + ".passwordFile", c.passwordFile()));
    }

    /** The program is looked up now, so that a helper missing on this machine fails the load, not the first pull. */
    private CredentialSource helper(String at, CredentialsSection c) throws ConfigException {
        if (c.helper() == null) {
            throw error(at + ".helper", "missing (lifetime needs it)");
        }
        if (!CredentialHelper.isValidName(c.helper())) {
            throw error(at + ".helper", "'" + c.helper() + "' " + CredentialHelper.NAME_RULE);
        }
        Path program = CredentialHelper.locate(c.helper(), pathVariable).orElseThrow(() -> error(at + ".helper",
                c.helper().startsWith("/") ? c.helper() + ": no such executable file"
                        : "docker-credential-" + c.helper() + " is not an executable file in any directory of PATH"));
        Duration lifetime = c.lifetime() == null ? DEFAULT_HELPER_LIFETIME : positive(at + ".lifetime", c.lifetime());
        return new CredentialSource.Helper(c.helper(), program, lifetime);
    }

    private UpstreamConfig.Timeouts timeouts(String at, TimeoutsSection t) throws ConfigException {
        UpstreamConfig.Timeouts d = UpstreamConfig.Timeouts.defaults();
        if (t == null) {
            return d;
        }
        return new UpstreamConfig.Timeouts(
                t.connect() == null ? d.connect() : positive(at + ".connect", t.connect()),
                t.firstByte() == null ? d.firstByte() : positive(at + ".firstByte", t.firstByte()),
                t.idle() == null ? d.idle() : positive(at + ".idle", t.idle()));
    }

    private Duration positive(String at, Object value) throws ConfigException {
        Duration d = duration(at, value);
        if (d.isZero()) {
            throw error(at, "must be positive");
        }
        return d;
    }

    Duration duration(String at, Object value) throws ConfigException {
        try {
            return Durations.parse(value);
        } catch (IllegalArgumentException e) {
            throw error(at, e.getMessage());
        }
    }

    /** {@code value} resolved against the configuration's directory; it must be a readable file. */
    Path file(String at, String value) throws ConfigException {
        return file(at, value, true);
    }

    /**
     * {@code value} resolved against the configuration's directory; it must be a regular file and,
     * if {@code mustBeReadable}, readable by this process. Keys and htpasswd files are often
     * readable by the server's user only: a command that merely reads the configuration (such as
     * {@code ca export --config}) must not fail on them, and {@code serve} names the file if it
     * cannot read it.
     */
    Path file(String at, String value, boolean mustBeReadable) throws ConfigException {
        if (value.isBlank()) {
            throw error(at, "must not be empty");
        }
        Path p;
        try {
            p = baseDir.resolve(value).normalize();
        } catch (InvalidPathException e) {
            throw error(at, "'" + value + "' is not a path: " + e.getReason());
        }
        if (!Files.exists(p)) {
            throw error(at, p + ": no such file");
        }
        if (!Files.isRegularFile(p)) {
            throw error(at, p + ": not a regular file");
        }
        if (mustBeReadable && !Files.isReadable(p)) {
            throw error(at, p + ": not readable");
        }
        return p;
    }

    ConfigException error(String field, String message) {
        return new ConfigException(source + ": " + field + ": " + message);
    }

    // The file's shape: boxed fields, so that "absent" (null) takes the default. Durations are
    // Object because a file may give "10m" or a number of seconds.
    record UpstreamSection(String name, String url, List<String> aliases,
                           @JsonProperty("default") Boolean isDefault, String caCert,
                           CredentialsSection credentials, Object tagTtl, Boolean plainHttp,
                           TimeoutsSection timeouts, Integer maxRetries, List<String> allow, List<String> deny,
                           Integer maxConnections, Object maxBandwidth,
                           List<FailoverUrlReader.UrlSection> urls,
                           String authorization, Object authorizationTtl) {
    }

    record CredentialsSection(String dockerConfig, String username, String passwordFile, String helper,
                              Object lifetime) {
    }

    record TimeoutsSection(Object connect, Object firstByte, Object idle) {
    }
}
