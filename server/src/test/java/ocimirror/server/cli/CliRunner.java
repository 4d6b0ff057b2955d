package ocimirror.server.cli;

import java.io.PrintWriter;

/** Runs the command line in this JVM from tests in other packages. */
public final class CliRunner {
    private CliRunner() {
    }

    /** {@code ocimirror ARGS} printing to {@code out} (errors too); returns the exit status. */
    public static int run(PrintWriter out, String... args) {
        return Main.run(out, out, args);
    }
}
