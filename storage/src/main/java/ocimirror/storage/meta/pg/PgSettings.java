package ocimirror.storage.meta.pg;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Where the shared metadata lives and how to log in.
 *
 * @param url            {@code jdbc:postgresql://host:port/database}, optionally with driver
 *                       parameters (e.g. {@code ?sslmode=verify-full}); never a password
 * @param user           the role to log in as
 * @param passwordFile   a file holding the role's password (a trailing newline is ignored), so
 *                       that it is in no URL, command line or log
 * @param maxConnections the pool's size: an upper bound on the replica's concurrent metadata
 *                       calls, which queue for a connection beyond it
 */
public record PgSettings(String url, String user, Path passwordFile, int maxConnections) {
    public PgSettings {
        requireNonNull(url, "url");
        requireNonNull(user, "user");
        requireNonNull(passwordFile, "passwordFile");
        if (!url.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("metadata URL must start with jdbc:postgresql: (got " + redacted(url) + ")");
        }
        if (url.toLowerCase(Locale.ROOT).contains("password=")) {
            throw new IllegalArgumentException("the metadata URL must not carry a password; use a password file");
        }
        if (maxConnections < 2) {
            throw new IllegalArgumentException("maxConnections must be at least 2, got " + maxConnections);
        }
    }

    /** The URL without its parameters, for messages. */
    static String redacted(String url) {
        int q = url.indexOf('?');
        return q < 0 ? url : url.substring(0, q) + "?...";
    }
}
