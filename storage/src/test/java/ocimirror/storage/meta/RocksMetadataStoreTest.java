package ocimirror.storage.meta;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@link MetadataStoreContract} on RocksDB, and what only RocksDB does. */
class RocksMetadataStoreTest extends MetadataStoreContract {
    @TempDir
    Path dir;

    @Override
    protected MetadataStore open(Clock clock) throws IOException {
        return RocksMetadataStore.open(dir, clock);
    }

    /** Each write is its own atomic batch; the repository lock is a lock, not a transaction. */
    @Override
    protected boolean repoLockBodyIsOneTransaction() {
        return false;
    }

    @Test
    void secondOpenOfSameDirectoryFails() {
        assertThrows(IOException.class, () -> RocksMetadataStore.open(dir, CLOCK));
        store.putTag(REPO, "still-works", tag(D1)); // the failed open freed only what it had created
        assertTrue(store.getTag(REPO, "still-works").isPresent());
    }
}
