package ocimirror.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where the mirror's own credentials for one upstream come from. Only the reference lives in
 * the configuration; {@link RegistryCredentials#resolve} reads the file when the upstream
 * client is built, so a secret never sits in the configuration file itself.
 */
public sealed interface CredentialSource {

    /** Anonymous access (public images, anonymous Bearer tokens). */
    record None() implements CredentialSource {
    }

    /**
     * A Docker {@code config.json} or the content of a Kubernetes {@code dockerconfigjson}
     * secret; the entry for the upstream's host is used.
     */
    record DockerConfig(Path file) implements CredentialSource {
        public DockerConfig {
            Objects.requireNonNull(file, "dockerConfig file");
        }
    }

    /** A user name and a file that holds only the password (a mounted secret, say). */
    record PasswordFile(String username, Path passwordFile) implements CredentialSource {
        public PasswordFile {
            if (username == null || username.isEmpty()) {
                throw new IllegalArgumentException("username must not be empty");
            }
            if (username.indexOf(':') >= 0) {
                // Basic auth joins user and password with ':', so the user cannot hold one.
                throw new IllegalArgumentException("username must not contain ':'");
            }
            Objects.requireNonNull(passwordFile, "passwordFile");
        }
    }

    /**
     * A Docker credential helper, {@code docker-credential-<helper> get}, run by the mirror for a
     * fresh answer once {@code lifetime} has passed and at once when the upstream refuses the
     * current one (see {@link CredentialHelper}).
     *
     * @param helper   the name as configured: {@code ecr-login}, or an absolute path to the program
     * @param program  the program found for it when the configuration was loaded (absolute)
     * @param lifetime how long an answer is used before the helper is asked again; positive
     */
    record Helper(String helper, Path program, Duration lifetime) implements CredentialSource {
        public Helper {
            if (!CredentialHelper.isValidName(helper)) {
                throw new IllegalArgumentException("credential helper '" + helper + "' " + CredentialHelper.NAME_RULE);
            }
            Objects.requireNonNull(program, "credential helper program");
            if (lifetime == null || lifetime.isNegative() || lifetime.isZero()) {
                throw new IllegalArgumentException("credential helper lifetime must be positive, got " + lifetime);
            }
        }
    }

    static CredentialSource none() {
        return new None();
    }
}
