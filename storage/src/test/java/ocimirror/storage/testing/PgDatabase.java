package ocimirror.storage.testing;

import java.nio.file.Path;

/**
 * A fresh, empty database of the test cluster, owned by a role that logs in over TCP with a
 * password kept in a file (as the mirror logs in: never a password in the URL).
 *
 * @param url          {@code jdbc:postgresql://127.0.0.1:<port>/<name>}
 * @param passwordFile the role's password, alone in a file
 */
public record PgDatabase(String url, String user, Path passwordFile, String name) {
}
