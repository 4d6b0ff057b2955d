package ocimirror.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs the real command-line programs tests use (openssl, htpasswd), bounded in time. */
public final class Commands {

    /** @param exit the exit status; @param output stdout and stderr together */
    public record Result(int exit, String output) {
    }

    private Commands() {
    }

    /** Skips the test when {@code program} is not installed (fails under CI=true). */
    public static void require(String program, String debianPackage) {
        for (String dir : List.of("/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin")) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return;
            }
        }
        String msg = program + " is not installed (apt-get install -y " + debianPackage + ")";
        if ("true".equals(System.getenv("CI"))) {
            fail(msg);
        }
        Assumptions.abort(msg);
    }

    /** Runs {@code cmd} with stdin from /dev/null; kills it after {@code timeout}. */
    public static Result run(Duration timeout, String... cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("cmd", ".out");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(new File("/dev/null"))
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                fail(String.join(" ", cmd) + " did not finish within " + timeout + ":\n" + Files.readString(out));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Runs {@code cmd}, failing the test with its output when it exits non-zero. */
    public static String check(String... cmd) throws IOException, InterruptedException {
        Result r = run(Duration.ofSeconds(60), cmd);
        if (r.exit() != 0) {
            fail(String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }
}
