package ocimirror.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ocimirror.config.pki.KeyAlgorithm;

/**
 * Turns the {@code tls:} and {@code auth:} sections of a configuration file into {@link TlsConfig}
 * and {@link AuthConfig}, every error naming the file and the field ({@code tls.clientAuth: ...},
 * {@code auth.users.ci: ...}). File references are resolved against the configuration file's
 * directory, like the upstreams' ({@link UpstreamReader}), and must exist; keys and the htpasswd
 * file need not be readable by whoever merely loads the configuration (the server names them at
 * start if it cannot read them). A missing section takes the default: TLS generate, no client
 * authentication.
 */
final class TlsAuthReader {

    private final String source;
    private final UpstreamReader files;

    TlsAuthReader(String source, UpstreamReader files) {
        this.source = source;
        this.files = files;
    }

    TlsConfig tls(TlsSection s) throws ConfigException {
        if (s == null) {
            return TlsConfig.defaults();
        }
        List<String> hostNames = null;
        if (s.hostNames() != null) {
            hostNames = new ArrayList<>();
            for (int i = 0; i < s.hostNames().size(); i++) {
                String h = s.hostNames().get(i);
                if (h == null || h.isBlank()) {
                    throw error("tls.hostNames[" + i + "]", "expected a host name or an IP address");
                }
                hostNames.add(h);
            }
        }
        try {
            return new TlsConfig(
                    mode(s.mode()),
                    s.keyAlgorithm() == null ? null : keyAlgorithm(s.keyAlgorithm()),
                    hostNames,
                    path("tls.certFile", s.certFile(), true),
                    path("tls.keyFile", s.keyFile(), false),
                    path("tls.chainFile", s.chainFile(), true),
                    path("tls.caCertFile", s.caCertFile(), true),
                    path("tls.caKeyFile", s.caKeyFile(), false),
                    path("tls.clientCaFile", s.clientCaFile(), true),
                    s.clientAuth() == null ? null : TlsConfig.ClientAuth.fromName(s.clientAuth()));
        } catch (IllegalArgumentException e) {
            // TlsConfig and the enums word their messages with the field path already.
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    AuthConfig auth(AuthSection s) throws ConfigException {
        if (s == null) {
            return AuthConfig.disabled();
        }
        Map<String, AuthConfig.Access> users = null;
        if (s.users() != null) {
            users = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : s.users().entrySet()) {
                users.put(e.getKey(), access("auth.users." + e.getKey(), e.getValue()));
            }
        }
        AuthConfig.Access defaultAccess = s.defaultAccess() == null ? null
                : access("auth.defaultAccess", s.defaultAccess());
        try {
            return new AuthConfig(path("auth.htpasswd", s.htpasswd(), false), s.realm(), users, defaultAccess);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    /**
     * YAML 1.1, which the parser follows, reads a bare {@code off} (and {@code no}, {@code false})
     * as the boolean false: {@code mode: off} is what people write, so false means off.
     */
    private TlsConfig.Mode mode(Object value) throws ConfigException {
        if (value == null) {
            return null;
        }
        if (Boolean.FALSE.equals(value)) {
            return TlsConfig.Mode.OFF;
        }
        if (!(value instanceof String name)) {
            throw error("tls.mode", "expected generate, files or off");
        }
        return TlsConfig.Mode.fromName(name);
    }

    private Path path(String at, String value, boolean mustBeReadable) throws ConfigException {
        return value == null ? null : files.file(at, value, mustBeReadable);
    }

    private KeyAlgorithm keyAlgorithm(String name) {
        try {
            return KeyAlgorithm.fromName(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tls.keyAlgorithm: " + e.getMessage(), e);
        }
    }

    private AuthConfig.Access access(String at, String value) throws ConfigException {
        if (value == null) {
            throw error(at, "expected pull or push");
        }
        try {
            return AuthConfig.Access.fromName(value);
        } catch (IllegalArgumentException e) {
            throw error(at, "unknown value '" + value + "' (expected pull or push)");
        }
    }

    private ConfigException error(String field, String message) {
        return new ConfigException(source + ": " + field + ": " + message);
    }

    // The file's shape: strings, converted above so that errors can name the field (mode: see mode()).
    record TlsSection(Object mode, String keyAlgorithm, List<String> hostNames, String certFile, String keyFile,
                      String chainFile, String caCertFile, String caKeyFile, String clientCaFile, String clientAuth) {
    }

    record AuthSection(String htpasswd, String realm, Map<String, String> users, String defaultAccess) {
    }
}
