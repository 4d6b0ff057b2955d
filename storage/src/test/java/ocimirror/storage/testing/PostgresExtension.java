package ocimirror.storage.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A throw-away PostgreSQL for tests: one {@link PostgresCluster} per test JVM (started by the
 * first test that needs it, stopped when the JUnit run ends, or by a shutdown hook), and a fresh
 * database per {@link #newDatabase()} call.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final PostgresExtension POSTGRES = new PostgresExtension();
 *
 * @BeforeEach void setUp() throws SQLException { db = POSTGRES.newDatabase(); }
 * }</pre>
 *
 * <p>Without PostgreSQL under /usr/lib/postgresql the test is skipped, with the command that
 * installs it; with {@code CI=true} it fails instead ({@code ./test.sh} installs it, so a skip
 * there would hide a broken setup). The check runs before each test rather than once per class:
 * surefire does not count a class aborted in {@code @BeforeAll} as skipped.
 */
public final class PostgresExtension implements BeforeEachCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(PostgresExtension.class);

    /** The cluster or why there is none; kept in the root store, so once per JVM and closed at its end. */
    private record Started(PostgresCluster cluster, String failure, boolean broken) implements AutoCloseable {
        @Override
        public void close() {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    private volatile PostgresCluster cluster;

    @Override
    public void beforeEach(ExtensionContext context) {
        Started started = context.getRoot().getStore(NAMESPACE)
                .getOrComputeIfAbsent(Started.class, k -> start(), Started.class);
        if (started.broken()) {
            // Installed but not starting is a broken setup: a failure, never a skip.
            fail(started.failure());
        }
        if (started.cluster() == null) {
            unavailable(started.failure());
        }
        cluster = started.cluster();
    }

    /** A new empty database (call it from {@code @BeforeEach} or a test). */
    public PgDatabase newDatabase() throws SQLException {
        PostgresCluster c = cluster;
        if (c == null) {
            throw new IllegalStateException("PostgresExtension must be registered with @RegisterExtension");
        }
        return c.createDatabase();
    }

    /**
     * Stops the cluster's server, keeping its data, as an outage would: every connection is cut.
     * Call {@link #startServer} in a {@code finally}: the cluster is shared by the JVM's tests.
     */
    public void stopServer() {
        started().stopServer();
    }

    /** Starts the server again after {@link #stopServer}, on the same port. */
    public void startServer() throws Exception {
        started().startServer();
    }

    private PostgresCluster started() {
        PostgresCluster c = cluster;
        if (c == null) {
            throw new IllegalStateException("PostgresExtension must be registered with @RegisterExtension");
        }
        return c;
    }

    private static Started start() {
        Optional<Path> bin = PostgresCluster.findBinaries();
        if (bin.isEmpty()) {
            return new Started(null, "PostgreSQL is not installed (no /usr/lib/postgresql/<major>/bin/initdb): "
                    + "run ./test.sh, which installs it, or install postgresql-common, set create_main_cluster = false "
                    + "in /etc/postgresql-common/createcluster.conf, then apt-get install -y postgresql", false);
        }
        try {
            return new Started(PostgresCluster.start(bin.get()), null, false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Started(null, "starting a test PostgreSQL was interrupted", true);
        } catch (Exception e) {
            return new Started(null, "starting a test PostgreSQL failed: " + e.getMessage(), true);
        }
    }

    private static void unavailable(String reason) {
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail(reason + " (CI=true: a missing program is a failure, not a skip)");
        }
        Assumptions.abort(reason);
    }
}
