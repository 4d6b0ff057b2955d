package ocimirror.server.shared;

import java.io.IOException;
import java.time.Clock;
import ocimirror.config.MirrorConfig;
import ocimirror.storage.Storage;

/**
 * The one place that decides what a process runs on: without {@code storage.s3} and
 * {@code metadata.postgres} ({@link MirrorConfig#shared()} null) the files and RocksDB of the
 * data directory, exactly as a single node always has; with them, the shared backends
 * ({@link SharedStorage}). {@code serve} and the offline commands all open their storage here.
 */
public final class Stores {
    private Stores() {
    }

    public static Storage open(MirrorConfig config, Clock clock) throws IOException {
        return config.shared() == null ? Storage.open(config.dataDir(), clock) : SharedStorage.open(config, clock);
    }
}
