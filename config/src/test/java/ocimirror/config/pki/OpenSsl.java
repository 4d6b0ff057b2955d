package ocimirror.config.pki;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Runs the real {@code openssl} program (installed on the test machines) with a time limit. */
final class OpenSsl {
    private OpenSsl() {
    }

    static Programs.Result run(Path workDir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        return Programs.run(workDir, Map.of(), Duration.ofSeconds(60), cmd);
    }

    /** Runs and fails the test unless openssl exits 0. */
    static String ok(Path workDir, String... args) throws IOException, InterruptedException {
        Programs.Result r = run(workDir, args);
        if (r.exit() != 0) {
            throw new AssertionError("openssl " + String.join(" ", args) + " failed (" + r.exit() + "): " + r.output());
        }
        return r.output();
    }
}
