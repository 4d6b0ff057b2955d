package ocimirror.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.storage.Storage;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Readiness over a real data directory: RocksDB and ingest/ usable, closed, a busy executor, a stopping server. */
class ReadinessTest {
    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    /** Storage tasks wait here until the test runs them. */
    final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    final Executor queued = tasks::add;

    private void runTasks() {
        Runnable r;
        while ((r = tasks.poll()) != null) {
            r.run();
        }
    }

    @Test
    void notReadyWhileWarmingUp() throws Exception {
        try (Storage storage = Storage.open(dir, clock)) {
            Readiness readiness = new Readiness(storage.metadata(), storage.paths().ingestDir(), queued, clock);
            CompletableFuture<Void> warmUp = new CompletableFuture<>();
            readiness.warmingUp(warmUp);
            assertEquals(new Readiness.Result(false, "warming up"), readiness.check().join());
            assertTrue(tasks.isEmpty(), "nothing to probe while warming up");
            warmUp.complete(null);
            CompletableFuture<Readiness.Result> after = readiness.check();
            runTasks();
            assertEquals(new Readiness.Result(true, "ok"), after.join());
        }
    }

    @Test
    void aWarmUpThatFailsStillEndsTheWait() throws Exception {
        try (Storage storage = Storage.open(dir, clock)) {
            Readiness readiness = new Readiness(storage.metadata(), storage.paths().ingestDir(), queued, clock);
            readiness.warmingUp(CompletableFuture.failedFuture(new IllegalStateException("no")));
            CompletableFuture<Readiness.Result> after = readiness.check();
            runTasks();
            assertTrue(after.join().ready());
        }
    }

    @Test
    void readyUntilTheStorageIsClosedThenNot() throws Exception {
        Storage storage = Storage.open(dir, clock);
        Readiness readiness = new Readiness(storage.metadata(), storage.paths().ingestDir(), queued, clock);
        CompletableFuture<Readiness.Result> first = readiness.check();
        CompletableFuture<Readiness.Result> shared = readiness.check();
        assertFalse(first.isDone(), "the check runs on the storage executor");
        assertEquals(1, tasks.size(), "concurrent probes share one check");
        runTasks();
        assertEquals(new Readiness.Result(true, "ok"), first.join());
        assertEquals(first.join(), shared.join());
        try (var files = Files.list(storage.paths().ingestDir())) {
            assertEquals(0, files.count(), "the probe file is gone");
        }

        storage.close();
        assertTrue(readiness.check().join().ready(), "reused for a second");
        assertTrue(tasks.isEmpty());
        clock.advance(Duration.ofMillis(1001));
        CompletableFuture<Readiness.Result> after = readiness.check();
        runTasks();
        assertFalse(after.join().ready());
        assertTrue(after.join().detail().startsWith("metadata store unusable"), after.join().detail());
    }

    @Test
    void anUnwritableIngestDirectoryOrABusyExecutorIsNotReady() throws Exception {
        try (Storage storage = Storage.open(dir, clock)) {
            Files.delete(storage.paths().ingestDir());
            Readiness readiness = new Readiness(storage.metadata(), storage.paths().ingestDir(), Runnable::run, clock);
            Readiness.Result r = readiness.check().join();
            assertFalse(r.ready());
            assertTrue(r.detail().startsWith("cannot write to " + storage.paths().ingestDir()), r.detail());

            Readiness busy = new Readiness(storage.metadata(), storage.paths().ingestDir(), task -> {
                throw new RejectedExecutionException("full");
            }, clock);
            assertEquals(new Readiness.Result(false, "storage executor saturated"), busy.check().join());
        }
    }

    @Test
    void aStoppingServerIsNotReadyEvenWithAFreshGoodResult() throws Exception {
        try (Storage storage = Storage.open(dir, clock)) {
            Readiness readiness = new Readiness(storage.metadata(), storage.paths().ingestDir(), Runnable::run, clock);
            assertTrue(readiness.check().join().ready());
            readiness.stopping();
            assertEquals(new Readiness.Result(false, "shutting down"), readiness.check().join());
        }
    }

    @Test
    void notReadyWhileTheSharedMetadataListenerIsOutOfSyncThenReadyAgain() throws Exception {
        try (Storage storage = Storage.open(dir, clock)) {
            java.util.concurrent.atomic.AtomicBoolean inSync = new java.util.concurrent.atomic.AtomicBoolean(false);
            Readiness readiness = new Readiness(storage.metadata(), storage.paths().ingestDir(), Runnable::run, clock,
                    inSync::get);
            Readiness.Result r = readiness.check().join();
            assertFalse(r.ready());
            assertTrue(r.detail().startsWith("shared metadata out of sync"), r.detail());
            inSync.set(true);
            clock.advance(Readiness.MAX_AGE);
            assertEquals(new Readiness.Result(true, "ok"), readiness.check().join());
        }
    }
}
