package ocimirror.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A user name and password the mirror sends to one upstream (Basic auth, or to its token
 * endpoint). {@link #toString()} never shows the password.
 */
public record RegistryCredentials(String username, String password) {

    public RegistryCredentials {
        if (username == null || username.isEmpty()) {
            throw new IllegalArgumentException("username must not be empty");
        }
        if (username.indexOf(':') >= 0) {
            throw new IllegalArgumentException("username must not contain ':'");
        }
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("password must not be empty");
        }
    }

    /**
     * Reads the credentials {@code source} holds for the registry at {@code authority}
     * ({@code host} or {@code host:port}, as {@link UpstreamConfig#authority()} gives it).
     *
     * A {@link CredentialSource.Helper} is run once, here and now (blocking; see
     * {@link CredentialHelper#get}): the server uses {@code HelperCredentials} instead, which
     * caches the answer.
     *
     * @return empty for {@link CredentialSource.None}
     * @throws CredentialsException if a file cannot be read or parsed, a docker config has
     *                              no usable entry for {@code authority}, or a helper fails
     */
    public static Optional<RegistryCredentials> resolve(CredentialSource source, String authority) {
        if (source instanceof CredentialSource.None) {
            return Optional.empty();
        }
        if (source instanceof CredentialSource.PasswordFile p) {
            return Optional.of(fromPasswordFile(p.username(), p.passwordFile()));
        }
        if (source instanceof CredentialSource.DockerConfig d) {
            DockerConfigFile file = DockerConfigFile.read(d.file());
            return Optional.of(file.lookup(authority).orElseThrow(() -> new CredentialsException(
                    d.file() + ": no entry in \"auths\" for registry '" + authority + "' (entries: "
                            + String.join(", ", file.registries()) + ")")));
        }
        if (source instanceof CredentialSource.Helper h) {
            return Optional.of(CredentialHelper.get(h, authority, CredentialHelper.DEFAULT_TIMEOUT));
        }
        throw new IllegalArgumentException("unknown credential source " + source);
    }

    /** Credentials for {@code upstream}, read from its configured source (a helper is run: blocking). */
    public static Optional<RegistryCredentials> forUpstream(UpstreamConfig upstream) {
        try {
            String key = upstream.credentials() instanceof CredentialSource.Helper
                    ? CredentialHelper.serverUrl(upstream) : upstream.authority();
            return resolve(upstream.credentials(), key);
        } catch (CredentialsException e) {
            throw new CredentialsException("upstream '" + upstream.name() + "': " + e.getMessage(), e);
        }
    }

    /**
     * {@code username} with the content of {@code passwordFile}, trailing line breaks removed
     * (files written by {@code echo} or mounted from a Kubernetes secret often end in one).
     */
    public static RegistryCredentials fromPasswordFile(String username, Path passwordFile) {
        String content;
        try {
            content = new String(Files.readAllBytes(passwordFile), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CredentialsException("cannot read passwordFile " + passwordFile + ": " + e, e);
        }
        int end = content.length();
        while (end > 0 && (content.charAt(end - 1) == '\n' || content.charAt(end - 1) == '\r')) {
            end--;
        }
        String password = content.substring(0, end);
        if (password.isEmpty()) {
            throw new CredentialsException("passwordFile " + passwordFile + " is empty");
        }
        if (password.indexOf('\n') >= 0 || password.indexOf('\r') >= 0) {
            throw new CredentialsException("passwordFile " + passwordFile
                    + " holds more than one line; it must hold only the password");
        }
        return new RegistryCredentials(username, password);
    }

    @Override
    public String toString() {
        return "RegistryCredentials[username=" + username + ", password=***]";
    }
}
