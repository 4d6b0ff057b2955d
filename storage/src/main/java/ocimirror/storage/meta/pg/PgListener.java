package ocimirror.storage.meta.pg;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code LISTEN}s on {@link PgChanges#CHANNEL} over a connection of its own (not the pool's: a
 * pooled connection is handed to others, and a listener must stay connected), on a thread of its
 * own, and hands every payload to {@code onChange}. When the connection is lost it reconnects by
 * itself, with a back-off, and then calls {@code onResync} before it reads on: notifications sent
 * meanwhile are lost for good, so whatever depends on them must start over.
 *
 * <p>The order on (re)connecting is {@code LISTEN}, then {@code onResync}, then {@link #inSync}
 * true: a change committed after the {@code LISTEN} is delivered, and one committed before it is
 * covered by the resync. An idle connection is probed every few seconds, so that a dead one (a
 * network partition, no reset) is noticed within seconds rather than never.
 */
final class PgListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PgListener.class);
    /** How long one wait for notifications lasts; also the longest {@link #close} waits for it. */
    private static final int POLL_MILLIS = 250;
    private static final long PROBE_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** The wait before the first reconnection attempt, doubling up to {@code max}. */
    record Backoff(Duration min, Duration max) {
        static final Backoff DEFAULT = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5));
    }

    private final PgSettings settings;
    private final Consumer<String> onChange;
    private final Runnable onResync;
    private final Backoff backoff;
    private final AtomicLong reconnects = new AtomicLong();
    private final Thread thread;
    private volatile boolean inSync;
    private volatile boolean closed;
    private volatile int backendPid;
    /** The first connection, handed from {@link #start} to the thread. */
    private Connection connection;

    private PgListener(PgSettings settings, Consumer<String> onChange, Runnable onResync, Backoff backoff) {
        this.settings = settings;
        this.onChange = onChange;
        this.onResync = onResync;
        this.backoff = backoff;
        this.thread = new Thread(this::run, "ocimirror-metadata-listener");
        this.thread.setDaemon(true);
    }

    /** Connects and starts listening; fails if the first connection cannot be made. */
    static PgListener start(PgSettings settings, Consumer<String> onChange, Runnable onResync, Backoff backoff)
            throws IOException {
        PgListener listener = new PgListener(settings, onChange, onResync, backoff);
        Connection first;
        try {
            first = listener.connect();
        } catch (SQLException e) {
            throw new IOException("listening for metadata changes on " + PgSettings.redacted(settings.url()) + ": "
                    + e.getMessage(), e);
        }
        listener.connection = first;
        listener.thread.start();
        return listener;
    }

    private void run() {
        Connection c = connection;
        connection = null;
        long delay = backoff.min().toNanos();
        while (!closed) {
            try {
                if (c == null) {
                    c = connect();
                    reconnects.incrementAndGet();
                    delay = backoff.min().toNanos();
                    log.info("metadata change listener reconnected: the records in memory were dropped, since "
                            + "changes announced meanwhile were missed");
                }
                listen(c);
            } catch (SQLException | IOException | RuntimeException e) {
                if (closed) {
                    break;
                }
                if (inSync) {
                    inSync = false;
                    log.warn("lost the metadata change listener's connection ({}); serving the records in memory "
                            + "until it is back", e.getMessage());
                } else {
                    log.debug("metadata change listener: reconnecting failed: {}", e.getMessage());
                }
                closeQuietly(c);
                c = null;
                try {
                    TimeUnit.NANOSECONDS.sleep(delay);
                } catch (InterruptedException interrupted) {
                    break; // close()
                }
                delay = Math.min(delay * 2, backoff.max().toNanos());
            }
        }
        closeQuietly(c);
    }

    /** A new connection, listening, and the resync done: in sync when it returns. */
    private Connection connect() throws SQLException, IOException {
        Properties props = new Properties();
        props.setProperty("user", settings.user());
        // read at each connection, so a rotated password file is picked up
        props.setProperty("password", Files.readString(settings.passwordFile(), UTF_8).strip());
        props.setProperty("ApplicationName", "ocimirror-listener");
        props.setProperty("connectTimeout", "5");
        props.setProperty("socketTimeout", "15"); // bounds the probe on a dead connection
        props.setProperty("tcpKeepAlive", "true");
        Connection c = DriverManager.getConnection(settings.url(), props);
        try (Statement s = c.createStatement()) {
            s.execute("LISTEN " + PgChanges.CHANNEL);
            try (ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                backendPid = rs.getInt(1);
            }
        } catch (SQLException | RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
        onResync.run();
        inSync = true;
        return c;
    }

    /** Hands notifications on until the connection fails or this closes. */
    private void listen(Connection c) throws SQLException {
        PGConnection pg = c.unwrap(PGConnection.class);
        long lastHeard = System.nanoTime();
        while (!closed) {
            PGNotification[] notifications = pg.getNotifications(POLL_MILLIS);
            long now = System.nanoTime();
            if (notifications != null && notifications.length > 0) {
                for (PGNotification n : notifications) {
                    onChange.accept(n.getParameter());
                }
                lastHeard = now;
            } else if (now - lastHeard > PROBE_NANOS) {
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT 1");
                }
                lastHeard = now;
            }
        }
    }

    /** Whether the connection is up: every change committed since it was made is being applied. */
    boolean inSync() {
        return inSync;
    }

    /** Connections made again after a loss. */
    long reconnects() {
        return reconnects.get();
    }

    /** The server process of the current (or last) connection, for tests that cut it. */
    int backendPid() {
        return backendPid;
    }

    private static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException e) {
            // lost anyway
        }
    }

    /** Stops the thread (within about {@link #POLL_MILLIS}) and closes the connection. Idempotent. */
    @Override
    public void close() {
        closed = true;
        inSync = false;
        thread.interrupt();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(20));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
