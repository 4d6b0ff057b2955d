package ocimirror.config.pki;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code openssl} program (installed on the test machines) with a time limit. */
final class OpenSsl {
    record Result(int exit, String output) {
    }

    private OpenSsl() {
    }

    static Result run(Path workDir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        // Output goes to a file, so a hung openssl cannot block a pipe read past the time limit.
        Path log = Files.createTempFile(workDir, "openssl", ".out");
        Process p = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("openssl " + String.join(" ", args) + " did not finish in 60 s");
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        Files.delete(log);
        return new Result(p.exitValue(), out);
    }

    /** Runs and fails the test unless openssl exits 0. */
    static String ok(Path workDir, String... args) throws IOException, InterruptedException {
        Result r = run(workDir, args);
        if (r.exit() != 0) {
            throw new AssertionError("openssl " + String.join(" ", args) + " failed (" + r.exit() + "): " + r.output());
        }
        return r.output();
    }
}
