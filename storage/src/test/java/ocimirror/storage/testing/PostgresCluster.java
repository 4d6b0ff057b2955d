package ocimirror.storage.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throw-away PostgreSQL cluster: {@code initdb} into a temporary folder, {@code pg_ctl start}
 * on a free port of 127.0.0.1 (its unix socket in that folder too, never /var/run/postgresql),
 * one login role with a password, and a fresh database per {@link #createDatabase} call.
 * {@link #close} stops it with {@code pg_ctl stop} on its own data folder, so only the
 * postmaster this started is stopped, and removes the folder.
 *
 * <p>PostgreSQL refuses to run as root: as root, {@code initdb} and {@code pg_ctl} run as the
 * {@code postgres} user ({@code runuser -u postgres --}), which owns the cluster's folders.
 * Durability is off ({@code fsync}, {@code synchronous_commit}): the data lives for one test run.
 */
public final class PostgresCluster implements AutoCloseable {
    private static final String ROLE = "ocimirror";
    private static final Duration STEP = Duration.ofSeconds(60);

    private final Path bin;
    private final Path base;
    private final Path data;
    private final boolean asPostgres;
    private final int port;
    private final Path passwordFile;
    private final Properties login;
    private Connection admin;
    private int databases;
    private boolean stopped;

    private PostgresCluster(Path bin, Path base, Path data, boolean asPostgres, int port, Path passwordFile,
                            Properties login, Connection admin) {
        this.bin = bin;
        this.base = base;
        this.data = data;
        this.asPostgres = asPostgres;
        this.port = port;
        this.passwordFile = passwordFile;
        this.login = login;
        this.admin = admin;
    }

    /** The {@code bin} folder of the newest PostgreSQL under /usr/lib/postgresql, if any. */
    public static Optional<Path> findBinaries() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> majors = Files.list(root)) {
            return majors.map(p -> p.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparingInt(PostgresCluster::major));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static int major(Path bin) {
        try {
            return Integer.parseInt(bin.getParent().getFileName().toString());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Creates and starts a cluster with the binaries in {@code bin}. */
    public static PostgresCluster start(Path bin) throws IOException, InterruptedException, SQLException {
        boolean root = "root".equals(System.getProperty("user.name"));
        Path base = Files.createTempDirectory("ocimirror-pg-");
        Path data = base.resolve("data");
        Path run = base.resolve("run");
        Files.createDirectory(data, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.createDirectory(run);
        if (root) {
            // The postgres user must reach its folders through the mode-700 temp folder.
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx--x--x"));
            UserPrincipal postgres = base.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
            Files.setOwner(data, postgres);
            Files.setOwner(run, postgres);
        }
        String password = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
        Path passwordFile = base.resolve("password");
        Files.writeString(passwordFile, password + "\n", UTF_8);
        Files.setPosixFilePermissions(passwordFile, PosixFilePermissions.fromString("rw-------"));
        try {
            run(base, root, bin.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres", "-E", "UTF8",
                    "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync");
            int port = startOnFreePort(bin, base, data, run, root);
            // The role over the unix socket (trust); the SQL in a file so the password is in no argv.
            Path sql = base.resolve("role.sql");
            Files.writeString(sql, "CREATE ROLE " + ROLE + " LOGIN CREATEDB PASSWORD '" + password + "';\n", UTF_8);
            run(base, false, bin.resolve("psql").toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", run.toString(),
                    "-p", Integer.toString(port), "-U", "postgres", "-d", "postgres", "-f", sql.toString());
            Files.delete(sql);
            Properties login = new Properties();
            login.setProperty("user", ROLE);
            login.setProperty("password", password);
            Connection admin = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", login);
            PostgresCluster cluster = new PostgresCluster(bin, base, data, root, port, passwordFile, login, admin);
            Runtime.getRuntime().addShutdownHook(new Thread(cluster::close, "postgres-cluster-stop"));
            return cluster;
        } catch (IOException | InterruptedException | SQLException | RuntimeException e) {
            stop(bin, base, data, root);
            deleteTree(base);
            throw e;
        }
    }

    /** Another program may take the port between the probe and the start: then try another. */
    private static int startOnFreePort(Path bin, Path base, Path data, Path run, boolean root)
            throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            try {
                startOn(port, bin, base, data, run, root);
                return port;
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    private static void startOn(int port, Path bin, Path base, Path data, Path run, boolean root)
            throws IOException, InterruptedException {
        String options = "-p " + port + " -k " + run + " -c listen_addresses=127.0.0.1 -c fsync=off"
                + " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
        run(base, root, bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l",
                run.resolve("postgres.log").toString(), "-w", "-t", "60", "-o", options, "start");
    }

    /**
     * Stops the server as an outage would (every connection cut at once), keeping its data, until
     * {@link #startServer}. Tests that call it must start it again, whatever happens: the cluster
     * is shared by every test of the JVM.
     */
    public synchronized void stopServer() {
        try {
            admin.close();
        } catch (SQLException e) {
            // the server goes next
        }
        // fast, not immediate: every session is cut all the same, but with synchronous_commit off an
        // immediate stop would lose the last commits, which no outage of a durable server does
        stop(bin, base, data, asPostgres, "fast");
    }

    /** Starts the server stopped by {@link #stopServer} again, on the same port, with the same data. */
    public synchronized void startServer() throws IOException, InterruptedException, SQLException {
        startOn(port, bin, base, data, base.resolve("run"), asPostgres);
        admin = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", login);
    }

    public int port() {
        return port;
    }

    /**
     * A new empty database owned by the test role: one per test keeps tests apart. Its collation
     * is ICU's English, as an operator's database often has a natural-language one: code that
     * needs byte order must ask for it ({@code COLLATE "C"}), and fails here if it does not.
     */
    public synchronized PgDatabase createDatabase() throws SQLException {
        String name = "t" + (++databases);
        try (Statement s = admin.createStatement()) {
            s.execute("CREATE DATABASE " + name + " OWNER " + ROLE
                    + " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
        }
        return new PgDatabase("jdbc:postgresql://127.0.0.1:" + port + "/" + name, ROLE, passwordFile, name);
    }

    /** Stops the postmaster of this cluster's data folder and removes the folder. Idempotent. */
    @Override
    public synchronized void close() {
        if (stopped) {
            return;
        }
        stopped = true;
        try {
            admin.close();
        } catch (SQLException e) {
            // the cluster goes next
        }
        stop(bin, base, data, asPostgres);
        deleteTree(base);
    }

    private static void stop(Path bin, Path base, Path data, boolean asPostgres) {
        stop(bin, base, data, asPostgres, "immediate");
    }

    private static void stop(Path bin, Path base, Path data, boolean asPostgres, String mode) {
        if (!Files.exists(data.resolve("postmaster.pid"))) {
            return;
        }
        try {
            run(base, asPostgres, bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", mode, "-w",
                    "stop");
        } catch (IOException e) {
            System.err.println("stopping the test PostgreSQL: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Runs a command to completion (as postgres if asked), its output in a file: pg_ctl's
     * postmaster keeps inherited pipes open, so reading a pipe would never end.
     */
    private static void run(Path base, boolean asPostgres, String... cmd) throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>();
        if (asPostgres) {
            argv.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        argv.addAll(List.of(cmd));
        Path out = Files.createTempFile(base, "cmd", ".out");
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(new File("/dev/null"))
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(STEP.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IOException(String.join(" ", argv) + " did not finish within " + STEP);
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", argv) + " exited " + p.exitValue() + ":\n"
                        + Files.readString(out, UTF_8));
            }
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("removing " + root + ": " + e.getMessage());
        }
    }
}
