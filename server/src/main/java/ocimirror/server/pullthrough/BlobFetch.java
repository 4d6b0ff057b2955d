package ocimirror.server.pullthrough;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import ocimirror.server.upstream.BlobSink;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.BlobWriter;
import ocimirror.storage.blob.GrowingBlob;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream download of one blob into its ingest file, shared by every client that wants the
 * blob while it runs. Readers do not get bytes from here: they open the growing file
 * ({@link #openReader}) and read up to {@link #available()} at their own pace, waiting with
 * {@link #awaitChange} when they have caught up. So a slow reader never holds the download back
 * and no body is buffered in memory.
 *
 * <p>Life: connecting → {@link #started()} completes with the upstream's declared length →
 * bytes grow → the upstream's body ends → commit verifies the length and the digest →
 * {@link #committed()} completes. On a truncated or wrong body, an upstream failure or
 * {@link #cancel()}, nothing is committed, {@link #failure()} is set, and readers must cut their
 * clients off: a reader that has not seen {@link #isCommitted()} must hold back the last byte of
 * the blob, so that no client ever gets a clean end of a body that turned out wrong.
 *
 * <p>Thread-safe. Writer operations (create, write, commit, abort) run one at a time on the
 * storage executor, chained; progress callbacks complete on storage threads, so dependants that
 * touch a channel must hop to its event loop.
 */
public final class BlobFetch implements GrowingBlob {
    private static final Logger log = LoggerFactory.getLogger(BlobFetch.class);

    private final Digest digest;
    private final BlobStore blobs;
    private final Executor storage;
    private final Consumer<BlobInfo> onCommit;
    private final Runnable onDone;
    private final CompletableFuture<Long> started = new CompletableFuture<>();
    private final CompletableFuture<BlobInfo> committed = new CompletableFuture<>();
    private final List<Waiter> waiters = new ArrayList<>();
    private final Object chainLock = new Object();
    private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
    // Only touched by chained tasks, which happen one after the other.
    private BlobWriter writer;
    private volatile Path ingestPath;
    private volatile long available;
    private volatile long contentLength = -1;
    private volatile BlobInfo info;
    private volatile Throwable failure;
    private volatile boolean cancelled;
    private volatile CompletableFuture<Long> transfer;
    private volatile CompletableFuture<Void> ingestCreated;
    // Who wants it, guarded by waiters: clients waiting for it to start, and background work.
    private volatile int clients;
    private boolean background;
    private volatile boolean hasTurn;

    private record Waiter(long seen, CompletableFuture<Void> future) {
    }

    /**
     * @param onCommit runs on a storage thread after the blob is committed, before readers hear of
     *                 it (records the blob in the metadata)
     * @param onDone   runs once the fetch is over, either way (removes it from the in-flight map)
     */
    BlobFetch(Digest digest, BlobStore blobs, Executor storage, Consumer<BlobInfo> onCommit, Runnable onDone) {
        this.digest = digest;
        this.blobs = blobs;
        this.storage = storage;
        this.onCommit = onCommit;
        this.onDone = onDone;
    }

    @Override
    public Digest digest() {
        return digest;
    }

    /** Completes with the declared length (-1 if the upstream declared none) once the body begins; fails if it never does. */
    public CompletableFuture<Long> started() {
        return started.copy();
    }

    /** Completes when the blob is verified and stored; fails if the fetch is abandoned. */
    public CompletableFuture<BlobInfo> committed() {
        return committed.copy();
    }

    /** The upstream's declared length, or -1 (not known yet, or not declared). */
    @Override
    public long contentLength() {
        return contentLength;
    }

    /** Bytes written to the ingest file so far: a reader may read this far. */
    @Override
    public long available() {
        return available;
    }

    @Override
    public boolean isCommitted() {
        return info != null;
    }

    /** Why the fetch was abandoned, or null while it runs or after it committed. */
    @Override
    public Throwable failure() {
        return failure;
    }

    /**
     * Completes (on a storage or network thread) once more than {@code seen} bytes are available,
     * or the fetch committed or failed. Completes at once if that is already so.
     */
    @Override
    public CompletableFuture<Void> awaitChange(long seen) {
        synchronized (waiters) {
            if (available > seen || info != null || failure != null) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> f = new CompletableFuture<>();
            waiters.add(new Waiter(seen, f));
            return f;
        }
    }

    /**
     * Records that a client ({@code background} false) or background work (prefetch) wants this
     * download: while it waits for one of the upstream's {@code maxConnections}, a client's goes
     * first.
     *
     * @return false if the fetch failed already (the caller starts another)
     */
    boolean want(boolean background) {
        synchronized (waiters) {
            if (failure != null) {
                return false;
            }
            if (background) {
                this.background = true;
            } else {
                clients++;
            }
            return true;
        }
    }

    /**
     * A client that {@link #want}ed it is gone. If nobody wants it any more and it still waits for
     * a turn among the upstream's connections, it leaves the queue (it is abandoned: nothing was
     * downloaded); once under way it runs on for the cache, as always.
     */
    void unwant() {
        synchronized (waiters) {
            clients = Math.max(0, clients - 1);
            if (clients > 0 || background || hasTurn || failure != null) {
                return;
            }
        }
        fail(new CancellationException("every client left while the download of " + digest
                + " waited for a connection to the upstream"));
    }

    /**
     * Opens the bytes for reading: the ingest file while it grows (the channel stays valid after
     * the commit renames the file, which keeps its inode), else the committed blob. The caller
     * closes it.
     *
     * @throws ocimirror.storage.oci.OciException UNAVAILABLE if the fetch was abandoned
     */
    @Override
    public FileChannel openReader() {
        try {
            Path ingest = ingestPath;
            if (info == null && failure == null && ingest != null) {
                try {
                    return FileChannel.open(ingest, StandardOpenOption.READ);
                } catch (NoSuchFileException e) {
                    // renamed by the commit, or deleted by an abort, just now
                }
            }
            Optional<BlobInfo> stored = info != null ? Optional.of(info) : blobs.stat(digest);
            if (stored.isPresent()) {
                return FileChannel.open(stored.get().path(), StandardOpenOption.READ);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw OciError.UNAVAILABLE.exception("the download of " + digest + " failed"
                + (failure == null ? "" : ": " + failure.getMessage()));
    }

    /**
     * Starts the download: the request goes out at once while the ingest file is created on the
     * storage executor (a hop there first cost the time to first byte a thread switch and a file
     * creation); the body's first bytes are written after the file exists, and {@link #started()}
     * waits for it too, so a reader always finds the file.
     */
    void start(UpstreamClient client, RepoName upstreamRepo) {
        CompletableFuture<Void> created = serial(() -> {
            // Named up front: a store in front of S3 uploads alongside, so the commit waits only for its lag.
            writer = blobs.newWriterFor(digest);
            ingestPath = writer.ingestPath();
        });
        ingestCreated = created;
        created.whenComplete((v, e) -> {
            if (e != null) {
                fail(e);
            }
        });
        CompletableFuture<Long> t = client.fetchBlob(upstreamRepo, digest, new Sink());
        transfer = t;
        if (cancelled || failure != null) {
            t.cancel(false);
        }
    }

    /** Abandons the download (shutdown). */
    void cancel() {
        cancelled = true;
        CompletableFuture<Long> t = transfer;
        if (t != null) {
            t.cancel(false);
        }
    }

    private final class Sink implements BlobSink {
        @Override
        public boolean clientWaiting() {
            return clients > 0; // read under the limiter's lock: a stale value only reorders the queue
        }

        @Override
        public void onTurn() {
            hasTurn = true;
        }

        @Override
        public CompletionStage<Void> onStart(long length) {
            contentLength = length;
            // Usually created already (it ran while the upstream answered): then this completes here.
            return ingestCreated.thenRun(() -> started.complete(length));
        }

        @Override
        public CompletionStage<Void> onData(ByteBuffer data) {
            return serial(() -> {
                writer.write(data);
                available = writer.size();
                wake(false);
            });
        }

        @Override
        public void onComplete(long bytes) {
            long expected = contentLength >= 0 ? contentLength : bytes;
            serial(() -> {
                BlobInfo i = writer.commit(digest, expected);
                onCommit.accept(i);
                info = i;
            }).whenComplete((v, e) -> {
                if (e != null) {
                    fail(e);
                    return;
                }
                available = info.size();
                committed.complete(info);
                wake(true);
                onDone.run();
            });
        }

        @Override
        public void onError(Throwable error) {
            fail(error);
        }
    }

    private void fail(Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        synchronized (waiters) {
            if (failure != null || info != null) {
                return;
            }
            failure = cause;
        }
        if (cause instanceof UpstreamException u && u.kind() == UpstreamException.Kind.NOT_FOUND
                || cause instanceof CancellationException) {
            log.debug("download of {} abandoned: {}", digest, cause.toString());
        } else {
            log.info("download of {} abandoned: {}", digest, cause.toString());
        }
        CompletableFuture<Long> t = transfer;
        if (t != null) {
            t.cancel(false); // no-op once the transfer is over; stops it if the ingest file failed
        }
        serial(() -> {
            if (writer != null) {
                writer.abort();
            }
        });
        started.completeExceptionally(cause);
        committed.completeExceptionally(cause);
        wake(true);
        onDone.run();
    }

    private void wake(boolean all) {
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        synchronized (waiters) {
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                if (all || available > w.seen()) {
                    ready.add(w.future());
                    it.remove();
                }
            }
        }
        ready.forEach(f -> f.complete(null));
    }

    private interface IoTask {
        void run() throws IOException;
    }

    /** Runs {@code task} on the storage executor after every task chained before it, whatever their outcome. */
    private CompletableFuture<Void> serial(IoTask task) {
        synchronized (chainLock) {
            CompletableFuture<Void> next = tail.handle((v, e) -> null).thenRunAsync(() -> {
                try {
                    task.run();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, storage);
            tail = next;
            return next;
        }
    }

    @Override
    public String toString() {
        return "BlobFetch[" + digest + ", " + available + "/" + contentLength + (info != null ? ", committed"
                : failure != null ? ", failed" : "") + "]";
    }
}
