package ocimirror.server.metrics;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;

/**
 * What {@code GET /readyz} answers: whether the mirror can serve and store right now. The check
 * reads one key from RocksDB (any answer will do; a closed or broken store throws) and creates
 * and deletes a file in {@code ingest/}, where every upload and download is written (a full,
 * read-only or vanished data directory fails it). It runs on the storage executor, never on an
 * event loop, at most once per {@link #MAX_AGE}: probes in between get the last result, and
 * concurrent ones share the check in progress. A saturated storage executor is not ready either,
 * nor is a server that is stopping ({@link #stopping()}: it lets the transfers in flight finish,
 * and a load balancer still probing it should send nothing new).
 */
public final class Readiness {
    /** How long a result is reused. */
    public static final Duration MAX_AGE = Duration.ofSeconds(1);
    // Any digest will do: the read only proves that RocksDB answers.
    private static final Digest PROBE = Digest.sha256(new byte[0]);

    private final MetadataStore metadata;
    private final BooleanSupplier inSync;
    private final Path ingestDir;
    private final Executor storage;
    private final Clock clock;
    private final Object lock = new Object();
    private Result last;
    private long checkedAt;
    private CompletableFuture<Result> running;
    private volatile boolean stopping;
    private volatile boolean warming;

    /** @param ready whether both checks passed; {@code detail} says what failed, or "ok" */
    public record Result(boolean ready, String detail) {
    }

    public Readiness(MetadataStore metadata, Path ingestDir, Executor storage, Clock clock) {
        this(metadata, ingestDir, storage, clock, () -> true);
    }

    /**
     * @param inSync whether the shared metadata's change listener is connected (shared mode): while
     *               it is not, changes other replicas make may be missed, and the replica is not ready
     */
    public Readiness(MetadataStore metadata, Path ingestDir, Executor storage, Clock clock, BooleanSupplier inSync) {
        this.inSync = requireNonNull(inSync, "inSync");
        this.metadata = requireNonNull(metadata, "metadata");
        this.ingestDir = requireNonNull(ingestDir, "ingestDir");
        this.storage = requireNonNull(storage, "storage");
        this.clock = requireNonNull(clock, "clock");
    }

    /** From now on, not ready: the server is draining its connections before it stops. */
    public void stopping() {
        stopping = true;
    }

    /** Not ready until {@code warmUp} completes: the request paths are being compiled (see Warmup). */
    public void warmingUp(CompletionStage<?> warmUp) {
        warming = true;
        warmUp.whenComplete((r, e) -> warming = false);
    }

    /** The current answer; completes on a storage thread, or at once when a recent result is reused. */
    public CompletableFuture<Result> check() {
        if (stopping) {
            return CompletableFuture.completedFuture(new Result(false, "shutting down"));
        }
        if (warming) {
            return CompletableFuture.completedFuture(new Result(false, "warming up"));
        }
        CompletableFuture<Result> mine;
        synchronized (lock) {
            long now = clock.millis();
            if (last != null && now - checkedAt >= 0 && now - checkedAt < MAX_AGE.toMillis()) {
                return CompletableFuture.completedFuture(last);
            }
            if (running != null) {
                return running.copy();
            }
            mine = new CompletableFuture<>();
            running = mine;
        }
        try {
            storage.execute(() -> finish(mine, probe()));
        } catch (RejectedExecutionException e) {
            finish(mine, new Result(false, "storage executor saturated"));
        }
        return mine.copy();
    }

    private void finish(CompletableFuture<Result> f, Result r) {
        synchronized (lock) {
            last = r;
            checkedAt = clock.millis();
            running = null;
        }
        f.complete(r);
    }

    /** Both checks, on a storage thread. */
    private Result probe() {
        if (!inSync.getAsBoolean()) {
            return new Result(false, "shared metadata out of sync: the PostgreSQL listener is disconnected"
                    + " (reconnecting; changes made through other replicas may be missed meanwhile)");
        }
        try {
            metadata.getBlob(PROBE);
        } catch (RuntimeException e) {
            return new Result(false, "metadata store unusable: " + e.getMessage());
        }
        try {
            Path p = Files.createTempFile(ingestDir, ".readyz-", ".tmp");
            Files.deleteIfExists(p); // whatever cleans ingest/ may have taken it already
        } catch (IOException | RuntimeException e) {
            return new Result(false, "cannot write to " + ingestDir + ": " + e);
        }
        return new Result(true, "ok");
    }
}
