package ocimirror.storage.meta.pg;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import ocimirror.storage.meta.MetadataException;
import ocimirror.storage.meta.MetadataUnavailableException;

/**
 * The connection pool and the three ways {@link PgMetadataStore} uses it: a statement on its own
 * (auto-commit), a transaction, and a transaction that holds an advisory lock while a caller's
 * body runs. While a thread is in such a body, its calls run on the body's connection, inside its
 * transaction: they see their own writes, and they never wait for a second connection from the
 * pool (with every connection held by a lock waiter, that wait would never end).
 *
 * <p>Every {@link SQLException} becomes a {@link MetadataException}; a call after {@link #close}
 * throws {@link IllegalStateException}.
 */
final class PgDb implements AutoCloseable {
    /** Advisory lock class ids (the first half of the two-int key) used by this store. */
    static final int MIGRATION_LOCK = 0x6F63_0001;
    static final int REPO_LOCK = 0x6F63_0002;
    /**
     * A blob's lock, keyed by {@link #blobKey}: {@link PgIndex}'s record writes and whole-blob
     * removal take it exclusive, link and manifest writes shared (see {@link PgIndex}).
     */
    static final int BLOB_LOCK = 0x6F63_0003;
    /** Takes {@link #BLOB_LOCK} shared in a statement's {@code WITH}: parameters class id, blob key. */
    static final String BLOB_SHARED = "held AS (SELECT pg_advisory_xact_lock_shared(?, ?)) ";
    /** Threads of this JVM queue here, not on pool connections, for a repository's lock. */
    private static final int LOCAL_STRIPES = 64;

    interface SqlCall<T> {
        T run(Connection c) throws SQLException;
    }

    private final HikariDataSource pool;
    /** Names this store in its change notifications, so that its own listener can skip them. */
    private final String origin;
    private final ThreadLocal<Bound> bound = new ThreadLocal<>();
    private final ReentrantLock[] stripes = new ReentrantLock[LOCAL_STRIPES];
    private volatile boolean closed;

    /**
     * A lock body's connection, and whether a statement on it failed: PostgreSQL then aborts the
     * whole transaction, and a body that caught the error must not have its commit turn silently
     * into a rollback.
     */
    private static final class Bound {
        final Connection connection;
        boolean failed;

        Bound(Connection connection) {
            this.connection = connection;
        }
    }

    PgDb(HikariDataSource pool) {
        this.pool = pool;
        this.origin = Long.toHexString(new java.security.SecureRandom().nextLong());
        for (int i = 0; i < LOCAL_STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /** What this store's change notifications carry as their sender ({@link PgChanges}). */
    String origin() {
        return origin;
    }

    /** One statement, or several reads: auto-commit (or the enclosing lock's transaction). */
    <T> T call(SqlCall<T> body) {
        requireOpen();
        Bound inLock = bound.get();
        if (inLock != null) {
            return inBody(inLock, body);
        }
        try (Connection c = pool.getConnection()) {
            return body.run(c);
        } catch (SQLException e) {
            throw failed(e);
        }
    }

    /** Several statements that commit together (part of the enclosing lock's transaction, if any). */
    <T> T transaction(SqlCall<T> body) {
        requireOpen();
        Bound inLock = bound.get();
        if (inLock != null) {
            return inBody(inLock, body);
        }
        try (Connection c = pool.getConnection()) {
            return inTransaction(c, () -> body.run(c));
        } catch (SQLException e) {
            throw failed(e);
        }
    }

    /**
     * Runs {@code body} in one transaction holding the advisory lock {@code (classId, objId)}:
     * every replica on the database waits for it. Released when the transaction ends, so a
     * replica that dies mid-body drops it with its connection.
     */
    <T> T withLock(int classId, int objId, Supplier<T> body) {
        requireOpen();
        ReentrantLock local = stripes[Math.floorMod(objId, LOCAL_STRIPES)];
        local.lock();
        try {
            Bound inLock = bound.get();
            if (inLock != null) { // nested: one more lock in the same transaction
                inBody(inLock, c -> {
                    lock(c, classId, objId);
                    return null;
                });
                return body.get();
            }
            try (Connection c = pool.getConnection()) {
                return inTransaction(c, () -> {
                    lock(c, classId, objId);
                    Bound b = new Bound(c);
                    bound.set(b);
                    try {
                        T result = body.get();
                        if (b.failed) {
                            throw new MetadataException("a metadata call failed inside the repository lock: "
                                    + "the lock's transaction is rolled back", null);
                        }
                        return result;
                    } finally {
                        bound.remove();
                    }
                });
            }
        } catch (SQLException e) {
            throw failed(e);
        } finally {
            local.unlock();
        }
    }

    private static <T> T inBody(Bound b, SqlCall<T> body) {
        try {
            return body.run(b.connection);
        } catch (SQLException e) {
            b.failed = true;
            throw failed(e);
        }
    }

    private interface Body<T> {
        T run() throws SQLException;
    }

    /** Commits if {@code body} returns, rolls back if it throws anything. */
    private static <T> T inTransaction(Connection c, Body<T> body) throws SQLException {
        c.setAutoCommit(false);
        try {
            T result = body.run();
            c.commit();
            return result;
        } catch (SQLException | RuntimeException | Error e) {
            try {
                c.rollback();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } finally {
            c.setAutoCommit(true);
        }
    }

    /** The second half of a blob's {@link #BLOB_LOCK} key ({@code String.hashCode} is specified: every replica agrees). */
    static int blobKey(ocimirror.storage.oci.Digest digest) {
        return digest.toString().hashCode();
    }

    static void lock(Connection c, int classId, int objId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT pg_advisory_xact_lock(?, ?)")) {
            s.setInt(1, classId);
            s.setInt(2, objId);
            s.execute();
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("metadata store is closed");
        }
    }

    private static MetadataException failed(SQLException e) {
        String state = e.getSQLState() == null ? "" : " " + e.getSQLState();
        String message = "metadata store (PostgreSQL" + state + "): " + e.getMessage();
        return unreachable(e) ? new MetadataUnavailableException(message, e) : new MetadataException(message, e);
    }

    /**
     * Whether {@code e} says the database cannot be reached now rather than that a statement is
     * wrong: a connection failure (class 08), a server shutting down or restarting (57P01-57P03),
     * out of resources (class 53), or no connection from the pool in time (SQLSTATE 08001 from
     * HikariCP, or a transient connection exception).
     */
    static boolean unreachable(SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        return e instanceof java.sql.SQLTransientConnectionException
                || e instanceof java.sql.SQLNonTransientConnectionException || state.startsWith("08") || state.startsWith("53") || state.startsWith("57P");
    }

    /** Closes the pool. Idempotent. */
    @Override
    public void close() {
        closed = true;
        pool.close();
    }
}
