package ocimirror.server.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
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
        MirrorConfig cfg = config == null ? MirrorConfig.embedded() : ConfigLoader.load(config);
        return data == null ? cfg : cfg.withDataDir(data);
    }

    static Storage open(MirrorConfig cfg) throws Unavailable {
        try {
            return Storage.open(cfg.dataDir(), Clock.systemUTC());
        } catch (IOException e) {
            String why = String.valueOf(e.getMessage());
            if (why.contains("lock") || why.contains("LOCK")) {
                throw new Unavailable("the data directory " + cfg.dataDir().toAbsolutePath() + " is in use"
                        + " (is the server running? stop it first): " + why, e);
            }
            throw new Unavailable("cannot open the data directory " + cfg.dataDir().toAbsolutePath() + ": " + why, e);
        }
    }
}
