package ocimirror.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds and runs the external programs tests drive. A missing program skips the test on a
 * developer machine but fails it in CI ({@code CI=true}), where {@code ./test.sh} has
 * installed everything and a skip would hide a broken setup.
 */
public final class Programs {

    // Debian keeps nginx and friends in sbin, which a non-login PATH may lack.
    private static final List<String> EXTRA_DIRS = List.of("/usr/local/sbin", "/usr/sbin", "/sbin");

    private Programs() {
    }

    public static boolean inCi() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** The absolute path of {@code name}; skips (or fails in CI) if there is none. */
    public static Path require(String name) {
        return require(name, name);
    }

    /** {@link #require(String)} for each of {@code names}, in order. */
    public static void requireAll(String... names) {
        for (String name : names) {
            require(name);
        }
    }

    /** Like {@link #require(String)}, naming the Debian package that provides it in the message. */
    public static Path require(String name, String debianPackage) {
        Optional<Path> found = which(name);
        if (found.isEmpty()) {
            unavailable(name + " is not installed (apt-get install -y " + debianPackage
                    + ", or run ./test.sh, which installs it)");
        }
        return found.get();
    }

    /** Skips (or fails in CI) unless this JVM runs as root, which containerd needs. */
    public static void requireRoot(String why) {
        if (!isRoot()) {
            unavailable(why + " needs root");
        }
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /**
     * True if every program is found. {@code @BeforeAll} uses it to leave set-up undone, so
     * that each test's {@code @BeforeEach} {@link #require} reports its own skip (surefire
     * does not count a class aborted in {@code @BeforeAll} as skipped).
     */
    public static boolean present(String... names) {
        for (String name : names) {
            if (which(name).isEmpty()) {
                return false;
            }
        }
        return true;
    }

    private static void unavailable(String reason) {
        if (inCi()) {
            fail(reason + " (CI=true: a missing program is a failure, not a skip)");
        }
        Assumptions.abort(reason);
    }

    /** {@code name} on PATH or in the sbin directories. */
    public static Optional<Path> which(String name) {
        List<String> dirs = new ArrayList<>(List.of(
                System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin").split(File.pathSeparator)));
        dirs.addAll(EXTRA_DIRS);
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return Optional.empty();
    }

    /**
     * A port of 127.0.0.1 that was free a moment ago, for programs that cannot bind port 0
     * and report it. There is a small race with other programs; a collision fails fast at
     * start-up rather than silently.
     */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /**
     * Runs a short command to completion and returns its output (stdout and stderr merged),
     * failing with that output when it exits non-zero or outlives {@code timeout}. For
     * anything chatty or long, use {@link Processes#run}, which writes to files.
     */
    public static String run(Duration timeout, Map<String, String> env, String... cmd)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out;
        try {
            out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                fail(String.join(" ", cmd) + " did not finish within " + timeout);
            }
        } finally {
            p.destroyForcibly();
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            fail(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }

    public static String run(String... cmd) throws IOException, InterruptedException {
        return run(Duration.ofSeconds(60), Map.of(), cmd);
    }
}
