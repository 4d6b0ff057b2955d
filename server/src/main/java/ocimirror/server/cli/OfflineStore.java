package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Locale;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.server.shared.Stores;
import ocimirror.storage.Storage;
import picocli.CommandLine.Option;

/**
 * The {@code --data} and {@code --config} options of the commands that work on a data directory
 * while the server is stopped ({@code pin}, {@code gc}, {@code verify}): RocksDB locks the
 * directory, so they refuse to run beside a server instead of corrupting it. The configuration
 * (the file, or what {@code serve} runs without one) says which repositories are caches.
 */
final class OfflineStore {

    @Option(names = "--data", paramLabel = "DIR",
            description = "Data directory (default: ./data, or the config file's).")
    Path data;

    @Option(names = "--config", paramLabel = "FILE",
            description = "The server's configuration file (which repositories are caches, the pins, gc settings).")
    Path config;

    /** Thrown when the storage cannot be opened; the message is for the operator. */
    static final class Unavailable extends Exception {
        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    MirrorConfig configuration() throws ConfigException {
        return configuration(config, data);
    }

    /**
     * The configuration, or null once why it cannot be loaded is printed on {@code err}: the
     * command then exits with {@link Main#EXIT_CONFIG}.
     */
    MirrorConfig configurationOrReport(PrintWriter err) {
        try {
            return configuration();
        } catch (ConfigException e) {
            err.println("ocimirror: " + e.getMessage());
            err.flush();
            return null;
        }
    }

    /** The configuration {@code serve --config FILE --data DIR} would run with (either may be null). */
    static MirrorConfig configuration(Path config, Path data) throws ConfigException {
        MirrorConfig cfg = config == null ? MirrorConfig.embedded() : ConfigLoader.load(config);
        return data == null ? cfg : cfg.withDataDir(data);
    }

    static Storage open(MirrorConfig cfg) throws Unavailable {
        return open(cfg, " (is the server running? stop it first)");
    }

    /** As {@link #open(MirrorConfig)}; {@code whatToDo} follows "in use" when a server holds the lock. */
    static Storage open(MirrorConfig cfg, String whatToDo) throws Unavailable {
        try {
            return openOffline(cfg, whatToDo);
        } catch (IOException e) {
            if (e instanceof InUse) {
                throw new Unavailable(e.getMessage() + ": " + e.getCause().getMessage(), e);
            }
            throw new Unavailable("cannot open the data directory " + cfg.dataDir().toAbsolutePath() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Opens the data directory as the server does. When a running server holds RocksDB's lock,
     * throws an IOException "the data directory D is in use" + {@code whatToDo}, caused by the
     * original; other failures are thrown as they are.
     */
    static Storage openOffline(MirrorConfig cfg, String whatToDo) throws IOException {
        try {
            return Stores.open(cfg, Clock.systemUTC());
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("lock")) {
                throw new InUse("the data directory " + cfg.dataDir().toAbsolutePath() + " is in use" + whatToDo, e);
            }
            throw e;
        }
    }

    /** The data directory is locked by a running server. */
    private static final class InUse extends IOException {
        InUse(String message, IOException cause) {
            super(message, cause);
        }
    }
}
