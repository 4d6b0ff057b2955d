package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the external programs the end-to-end tests drive. A missing program skips the test
 * on a developer machine but fails it in CI ({@code CI=true}), where {@code ./test.sh} has
 * installed everything and a skip would hide a broken setup.
 */
final class Programs {

    private Programs() {
    }

    static boolean inCi() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** The absolute path of {@code name} on PATH; skips (or fails in CI) if there is none. */
    static String require(String name) {
        Optional<Path> found = which(name);
        if (found.isEmpty()) {
            unavailable(name + " is not installed (run ./test.sh, which installs it)");
        }
        return found.get().toString();
    }

    /** Skips (or fails in CI) unless this JVM runs as root, which containerd needs. */
    static void requireRoot(String why) {
        if (!isRoot()) {
            unavailable(why + " needs root");
        }
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /**
     * True if every program is on PATH. {@code @BeforeAll} uses it to leave set-up undone,
     * so that each test's {@code @BeforeEach} {@link #require} reports its own skip (surefire
     * does not count a class aborted in {@code @BeforeAll} as skipped).
     */
    static boolean present(String... names) {
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

    static Optional<Path> which(String name) {
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        for (String dir : path.split(File.pathSeparator)) {
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
}
