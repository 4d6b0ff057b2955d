package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import ocimirror.config.ConfigException;
import ocimirror.config.Durations;
import ocimirror.config.MirrorConfig;
import ocimirror.server.progress.Progress;
import ocimirror.storage.Storage;
import picocli.CommandLine.Option;

/**
 * The options of the commands that work on a data directory offline ({@code import},
 * {@code export}): which configuration (for upstream aliases and hosted namespaces) and which
 * data directory, as {@code serve} would use them, and how progress is shown.
 */
final class StoreOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "Configuration file the server runs with: its upstreams, hosted namespaces and data"
                    + " directory (default: what serve runs without one).")
    Path config;

    @Option(names = "--data", paramLabel = "DIR",
            description = "Data directory (default: the config file's, else ./data). The server must not be running"
                    + " on it.")
    Path data;

    @Option(names = "--progress-interval", paramLabel = "DURATION", defaultValue = "2s",
            description = "How often a progress line is printed when the output is not a terminal"
                    + " (default: ${DEFAULT-VALUE}).")
    String progressInterval;

    /** The configuration {@code serve --config FILE --data DIR} would run with. */
    MirrorConfig configuration() throws ConfigException {
        return OfflineStore.configuration(config, data);
    }

    Duration interval() {
        try {
            return Durations.parse(progressInterval);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--progress-interval: " + e.getMessage());
        }
    }

    /** A progress display per step: a bar on a terminal, else lines on {@code err}. */
    java.util.function.Function<String, Progress> progress(String command, PrintWriter err) {
        Duration every = interval();
        return step -> Progress.forConsole(command + " (" + step + ")", err, every);
    }

    /**
     * Opens the data directory like the server does.
     *
     * @throws IOException saying what to do when a running server holds it
     */
    static Storage open(MirrorConfig cfg) throws IOException {
        return OfflineStore.openOffline(cfg, " by a running ocimirror (it holds the lock on meta/): stop the server"
                + " or run this on another data directory; to fill a running mirror, use ocimirror prefetch");
    }
}
