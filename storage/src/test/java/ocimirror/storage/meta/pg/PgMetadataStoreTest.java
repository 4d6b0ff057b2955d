package ocimirror.storage.meta.pg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import ocimirror.storage.meta.MetadataException;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.MetadataStoreContract;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.testing.PgDatabase;
import ocimirror.storage.testing.PostgresExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The {@link MetadataStoreContract} on a real PostgreSQL, and what replicas sharing one need. */
class PgMetadataStoreTest extends MetadataStoreContract {
    @RegisterExtension
    static final PostgresExtension POSTGRES = new PostgresExtension();

    private PgDatabase db;

    @TempDir
    Path dir;

    /** Before the contract's own {@code @BeforeEach} (a subclass's run after its superclass's). */
    @Override
    protected MetadataStore open(Clock clock) throws IOException {
        if (db == null) {
            try {
                db = POSTGRES.newDatabase();
            } catch (SQLException e) {
                throw new IOException(e);
            }
        }
        return PgMetadataStore.open(settings(db), clock);
    }

    /** The body runs in the lock's transaction. */
    @Override
    protected boolean repoLockBodyIsOneTransaction() {
        return true;
    }

    @BeforeEach
    void databaseIsFresh() throws SQLException {
        assertEquals(List.of(), store.listRepositories(null, 10).items());
    }

    @Test
    void twoReplicasSeeEachOthersWritesAtOnce() throws IOException {
        try (MetadataStore other = open(CLOCK)) {
            store.putTag(REPO, "latest", tag(D1));
            assertEquals(Optional.of(tag(D1)), other.getTag(REPO, "latest"));
            other.putTag(REPO, "latest", tag(D2));
            assertEquals(Optional.of(tag(D2)), store.getTag(REPO, "latest"));
            other.linkBlob(REPO, D3);
            assertTrue(store.isBlobLinked(REPO, D3));
            assertTrue(store.deleteTag(REPO, "latest"));
            assertEquals(Optional.empty(), other.getTag(REPO, "latest"));
            assertFalse(other.deleteTag(REPO, "latest"));
        }
    }

    @Test
    void theRepoLockExcludesAnotherReplicaUntilTheBodyCommits() throws Exception {
        try (MetadataStore other = open(CLOCK)) {
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<Void> holder = CompletableFuture.runAsync(() -> store.inRepoLock(REPO, () -> {
                store.linkBlob(REPO, D1);
                inside.countDown();
                await(release);
                return null;
            }));
            assertTrue(inside.await(10, TimeUnit.SECONDS));
            CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(
                    () -> other.inRepoLock(REPO, () -> other.isBlobLinked(REPO, D1)));
            // another repository's lock is free meanwhile
            assertEquals("free", other.inRepoLock(otherRepo(), () -> "free"));
            assertThrows(TimeoutException.class, () -> waiter.get(300, TimeUnit.MILLISECONDS));
            assertFalse(other.isBlobLinked(REPO, D1), "uncommitted while the body runs");
            release.countDown();
            holder.get(10, TimeUnit.SECONDS);
            assertTrue(waiter.get(10, TimeUnit.SECONDS), "the waiter sees what the holder committed");
        }
    }

    /**
     * PostgreSQL aborts a transaction at its first failed statement: a body that catches the error
     * and returns must not see its earlier writes vanish silently at commit.
     */
    @Test
    void aFailedCallInsideTheRepoLockFailsTheWholeBody() {
        MetadataException e = assertThrows(MetadataException.class, () -> store.inRepoLock(REPO, () -> {
            store.linkBlob(REPO, D1);
            // a NUL is no valid PostgreSQL text: this statement fails
            assertThrows(MetadataException.class, () -> store.putUpload(new UploadRecord("bad\0id", REPO, 1)));
            return "returned normally";
        }));
        assertTrue(e.getMessage().contains("rolled back"), e.getMessage());
        assertFalse(store.isBlobLinked(REPO, D1));
        store.linkBlob(REPO, D2); // the store goes on
        assertTrue(store.isBlobLinked(REPO, D2));
    }

    @Test
    void concurrentOpenersMigrateOnce() throws Exception {
        // a database of its own: the contract's store has migrated this test's already
        PgDatabase fresh = POSTGRES.newDatabase();
        List<CompletableFuture<PgMetadataStore>> opening = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            opening.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return PgMetadataStore.open(settings(fresh), CLOCK);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (CompletableFuture<PgMetadataStore> f : opening) {
            try (PgMetadataStore s = f.get(60, TimeUnit.SECONDS)) {
                assertEquals(PgMetadataStore.schemaVersion(), s.storedSchemaVersion());
            }
        }
        assertEquals(PgMetadataStore.schemaVersion(), query(fresh, "SELECT count(*) FROM schema_version"));
    }

    @Test
    void aSchemaFromANewerVersionIsRefused() throws Exception {
        store.close();
        int newer = PgMetadataStore.schemaVersion() + 1;
        query(db, "INSERT INTO schema_version (version) VALUES (" + newer + ") RETURNING version");
        IOException e = assertThrows(IOException.class, () -> PgMetadataStore.open(settings(db), CLOCK));
        assertTrue(e.getMessage().contains("version " + newer), e.getMessage());
        query(db, "DELETE FROM schema_version WHERE version = " + newer + " RETURNING version");
        store = open(CLOCK); // this version's schema again: opens
        assertEquals(PgMetadataStore.schemaVersion(), ((PgMetadataStore) store).storedSchemaVersion());
    }

    @Test
    void thePasswordComesFromAFileAndNeverFromTheUrl() throws IOException {
        assertThrows(IllegalArgumentException.class,
                () -> new PgSettings(db.url() + "?password=secret", db.user(), db.passwordFile(), 4));
        assertThrows(IllegalArgumentException.class,
                () -> new PgSettings(db.url() + "?ssl=false&PASSWORD=secret", db.user(), db.passwordFile(), 4));
        Path wrong = dir.resolve("wrong-password");
        Files.writeString(wrong, "not-the-password-42\n", UTF_8);
        IOException e = assertThrows(IOException.class, () -> PgMetadataStore.open(
                new PgSettings(db.url(), db.user(), wrong, 2), CLOCK));
        assertFalse(e.getMessage().contains("not-the-password-42"), e.getMessage());
    }

    private static PgSettings settings(PgDatabase d) {
        return new PgSettings(d.url(), d.user(), d.passwordFile(), 4);
    }

    private static ocimirror.storage.oci.RepoName otherRepo() {
        return ocimirror.storage.oci.RepoName.of("library/redis");
    }

    /** One value from a statement run as the test role (outside any store). */
    private static long query(PgDatabase d, String sql) throws IOException, SQLException {
        String password = Files.readString(d.passwordFile(), UTF_8).strip();
        try (Connection c = DriverManager.getConnection(d.url(), d.user(), password);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
