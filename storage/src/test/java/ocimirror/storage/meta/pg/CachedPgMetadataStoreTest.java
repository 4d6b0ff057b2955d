package ocimirror.storage.meta.pg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.sql.SQLException;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.MetadataStoreContract;
import ocimirror.storage.testing.PgDatabase;
import ocimirror.storage.testing.PostgresExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The {@link MetadataStoreContract} through the caching decorator: whatever it keeps in memory,
 * a write is seen by the next read. Several replicas: {@link PgReplicaCoherenceTest}.
 */
class CachedPgMetadataStoreTest extends MetadataStoreContract {
    @RegisterExtension
    static final PostgresExtension POSTGRES = new PostgresExtension();

    private PgDatabase db;

    @Override
    protected MetadataStore open(Clock clock) throws IOException {
        if (db == null) {
            try {
                db = POSTGRES.newDatabase();
            } catch (SQLException e) {
                throw new IOException(e);
            }
        }
        return CachedPgMetadataStore.open(new PgSettings(db.url(), db.user(), db.passwordFile(), 4), clock);
    }

    @Override
    protected boolean repoLockBodyIsOneTransaction() {
        return true;
    }

    @Test
    void hitsAreCountedAndServedFromMemory() {
        CachedPgMetadataStore cached = (CachedPgMetadataStore) store;
        assertTrue(cached.inSync());
        long misses = cached.misses();
        store.putTag(REPO, "latest", tag(D1)); // read back into memory: the one miss
        assertEquals(misses + 1, cached.misses());
        long hits = cached.hits();
        for (int i = 0; i < 5; i++) {
            assertEquals(D1, store.getTag(REPO, "latest").orElseThrow().digest());
        }
        assertEquals(hits + 5, cached.hits());
        assertEquals(misses + 1, cached.misses());
    }

    /** The body's transaction is not committed yet: no other thread may read its writes from memory. */
    @Test
    void anotherThreadNeverSeesALockBodysUncommittedWrite() {
        boolean otherSaw = store.inRepoLock(REPO, () -> {
            store.linkBlob(REPO, D1);
            assertTrue(store.isBlobLinked(REPO, D1), "the body sees its own write");
            return CompletableFuture.supplyAsync(() -> store.isBlobLinked(REPO, D1)).orTimeout(10, TimeUnit.SECONDS).join();
        });
        assertFalse(otherSaw);
        assertTrue(store.isBlobLinked(REPO, D1), "committed when the body returned");
    }
}
