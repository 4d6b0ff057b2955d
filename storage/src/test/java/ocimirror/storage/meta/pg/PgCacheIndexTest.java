package ocimirror.storage.meta.pg;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.CacheIndexContract;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.testing.PgDatabase;
import ocimirror.storage.testing.PostgresExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The {@link CacheIndexContract} on a real PostgreSQL, and what replicas sharing one need: a
 * removal atomic against another replica's link, and one byte total for every writer.
 */
class PgCacheIndexTest extends CacheIndexContract {
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
        return PgMetadataStore.open(new PgSettings(db.url(), db.user(), db.passwordFile(), 4), clock);
    }

    /**
     * Eviction on this replica finds D1 held by the cache repository B only and goes ahead; another
     * replica's push links D1 into the hosted repository A meanwhile. That link must wait for the
     * removal and land after it: never be deleted with B's, unseen and unasked ({@code mayDrop}
     * would have refused A).
     */
    @Test
    @Timeout(60)
    void aLinkMadeWhileARemovalRunsWaitsAndSurvivesIt() throws Exception {
        try (PgMetadataStore other = (PgMetadataStore) open(CLOCK)) {
            store.putBlob(new BlobRecord(D1, 10, null, 1, 1));
            store.linkBlob(B, D1);
            AtomicReference<CompletableFuture<Void>> link = new AtomicReference<>();
            AtomicBoolean linkWaited = new AtomicBoolean();
            ((PgMetadataStore) store).index().afterRefsRead(() -> {
                link.set(CompletableFuture.runAsync(() -> other.linkBlob(A, D1)));
                try {
                    link.get().get(500, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    linkWaited.set(true);
                } catch (InterruptedException | ExecutionException e) {
                    throw new IllegalStateException(e);
                }
            });
            Optional<BlobRecord> removed = index.removeBlob(D1, r -> r.equals(B)); // as eviction: B is a cache
            link.get().get(10, TimeUnit.SECONDS);

            assertTrue(other.isBlobLinked(A, D1), "the hosted link landed after the removal");
            assertTrue(linkWaited.get(), "the link waited for the removal's transaction");
            assertEquals(10, removed.orElseThrow().size(), "only B held it when read: removed");
            assertFalse(other.isBlobLinked(B, D1));
        }
    }

    /** The other order: a link not yet committed on another replica makes the removal wait, then refuse. */
    @Test
    @Timeout(60)
    void aRemovalWaitsForALinkInFlightAndThenRefuses() throws Exception {
        try (PgMetadataStore other = (PgMetadataStore) open(CLOCK)) {
            store.putBlob(new BlobRecord(D1, 10, null, 1, 1));
            CountDownLatch linked = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<Void> push = CompletableFuture.runAsync(() -> other.inRepoLock(A, () -> {
                other.linkBlob(A, D1); // in the lock's transaction: committed when the body returns
                linked.countDown();
                await(release);
                return null;
            }));
            assertTrue(linked.await(10, TimeUnit.SECONDS));
            CompletableFuture<Optional<BlobRecord>> removal =
                    CompletableFuture.supplyAsync(() -> index.removeBlob(D1, r -> false));
            assertThrows(TimeoutException.class, () -> removal.get(300, TimeUnit.MILLISECONDS),
                    "the removal waits for the link's transaction");
            release.countDown();
            push.get(10, TimeUnit.SECONDS);

            assertEquals(Optional.empty(), removal.get(10, TimeUnit.SECONDS), "refused: it saw the link");
            assertTrue(store.getBlob(D1).isPresent());
            assertEquals(10, index.blobBytes());
        }
    }

    /**
     * Two replicas record, replace and delete blobs at once, many of them the same ones: the total
     * each reads back, and a third replica's at open, is the sum of the records.
     */
    @Test
    @Timeout(120)
    void twoWritersKeepOneExactTotal() throws Exception {
        try (PgMetadataStore other = (PgMetadataStore) open(CLOCK)) {
            AtomicLong heard = new AtomicLong(-1);
            index.addBlobBytesListener(heard::set);
            CompletableFuture<Void> a = CompletableFuture.runAsync(() -> write(store, "a"));
            CompletableFuture<Void> b = CompletableFuture.runAsync(() -> write(other, "b"));
            CompletableFuture.allOf(a, b).get(100, TimeUnit.SECONDS);

            long[] sum = {0};
            index.forEachBlob(r -> sum[0] += r.size());
            assertTrue(sum[0] > 0);
            assertEquals(sum[0], ((PgMetadataStore) store).refreshBlobBytes());
            assertEquals(sum[0], index.blobBytes());
            assertEquals(sum[0], other.refreshBlobBytes());
            assertEquals(sum[0], heard.get(), "the listener heard the other replica's writes at the refresh");
            try (PgMetadataStore third = (PgMetadataStore) open(CLOCK)) {
                assertEquals(sum[0], third.blobBytes());
            }
        }
    }

    @Test
    void aRefreshHearsOnlyAChange() throws Exception {
        try (PgMetadataStore other = (PgMetadataStore) open(CLOCK)) {
            List<Long> heard = new ArrayList<>();
            index.addBlobBytesListener(heard::add);
            other.putBlob(new BlobRecord(D1, 10, null, 1, 1));
            assertEquals(0, index.blobBytes(), "another replica's write: not seen until a refresh");
            assertEquals(10, ((PgMetadataStore) store).refreshBlobBytes());
            assertEquals(10, ((PgMetadataStore) store).refreshBlobBytes());
            assertEquals(List.of(10L), heard);
            assertFalse(other.removeBlob(D1, r -> true).isEmpty());
            assertEquals(0, ((PgMetadataStore) store).refreshBlobBytes());
            assertEquals(List.of(10L, 0L), heard);
        }
    }

    /** A database of schema 1 (blobs and sessions, no total or owners) gets both from migration 2. */
    @Test
    void migrationTwoCountsTheExistingBlobsAndOwnsTheSessionsLocally() throws Exception {
        PgDatabase old = POSTGRES.newDatabase();
        String password = Files.readString(old.passwordFile(), UTF_8).strip();
        try (Connection c = DriverManager.getConnection(old.url(), old.user(), password);
             Statement s = c.createStatement()) {
            s.execute("CREATE TABLE schema_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL"
                    + " DEFAULT now())");
            s.execute(PgSchema.MIGRATIONS.get(0));
            s.execute("INSERT INTO schema_version (version) VALUES (1)");
            s.execute("INSERT INTO blobs VALUES ('" + D1 + "', 300, null, 1, 9), ('" + D2 + "', 200, null, 1, 8)");
            s.execute("INSERT INTO uploads VALUES ('u1', 'local/a', 5)");
        }
        try (PgMetadataStore s = PgMetadataStore.open(new PgSettings(old.url(), old.user(), old.passwordFile(), 2),
                CLOCK)) {
            assertEquals(PgMetadataStore.schemaVersion(), s.storedSchemaVersion());
            assertEquals(500, s.blobBytes());
            assertEquals(UploadRecord.LOCAL, s.getUpload("u1").orElseThrow().owner());
            s.clearUploads(UploadRecord.LOCAL);
            assertEquals(Optional.empty(), s.getUpload("u1"));
        }
    }

    /** Each of 300 rounds: both put one shared blob (a new size each time), then one deletes it every third round. */
    private static void write(MetadataStore s, String name) {
        for (int i = 0; i < 300; i++) {
            Digest shared = digest("shared-" + (i % 50));
            s.putBlob(new BlobRecord(shared, 1 + i, null, 1, i));
            s.putBlob(new BlobRecord(digest(name + "-" + i), 7, null, 1, i));
            if (i % 3 == (name.equals("a") ? 0 : 1)) {
                s.deleteBlob(shared);
            }
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
