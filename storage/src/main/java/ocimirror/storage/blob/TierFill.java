package ocimirror.storage.blob;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Digest;

/**
 * One copy of a blob from the remote into the local tier, shared by every reader that wants the
 * blob while it runs: the copy writes the tier's ingest file (an {@link FsBlobStore} writer, the
 * same growing file the pull-through's local followers tail) and readers read that file at their
 * own pace up to what has arrived. A slow reader never holds the copy back, and nothing is
 * buffered in memory beyond one read buffer.
 *
 * <p>One read-only channel on the ingest file is opened up front and shared by every reader
 * (positional reads): it stays valid when the commit renames the file into place and when the
 * tier evicts it later, so no reader ever depends on a path. It is closed when the copy and the
 * last reader are done.
 *
 * <p>Integrity: until the copy is committed (size and digest checked), a reader is never given
 * the blob's last byte, and if the copy fails every reader's next read throws: nobody sees a
 * clean end of a wrong body.
 *
 * <p>Thread-safe. {@link #run} runs on one storage thread; readers block on others.
 */
final class TierFill implements GrowingBlob {
    private static final int BUFFER = 1 << 16;

    private final Digest digest;
    private final long total;
    private final BlobWriter writer;
    private final FileChannel channel;
    private final Function<Digest, Optional<BlobInfo>> stored;
    // Guarded by this: readers of the growing file waiting for more (GrowingBlob).
    private final List<Waiter> waiters = new ArrayList<>();
    // Guarded by this.
    private long available;
    private BlobInfo committed;
    private Throwable failure;
    private int refs = 1; // the copy's own

    private volatile boolean cancelled;

    /** Creates the ingest file now, so that readers who join before the copy starts find it. */
    TierFill(Digest digest, long total, BlobWriter writer, Function<Digest, Optional<BlobInfo>> stored)
            throws IOException {
        this.digest = digest;
        this.stored = stored;
        this.total = total;
        this.writer = writer;
        try {
            this.channel = FileChannel.open(writer.ingestPath(), StandardOpenOption.READ);
        } catch (IOException | RuntimeException e) {
            writer.abort();
            throw e;
        }
    }

    private record Waiter(long seen, CompletableFuture<Void> future) {
    }

    @Override
    public Digest digest() {
        return digest;
    }

    @Override
    public synchronized long available() {
        return available;
    }

    @Override
    public long contentLength() {
        return total;
    }

    @Override
    public synchronized boolean isCommitted() {
        return committed != null;
    }

    @Override
    public synchronized Throwable failure() {
        return failure;
    }

    @Override
    public CompletableFuture<Void> awaitChange(long seen) {
        synchronized (this) {
            if (available > seen || committed != null || failure != null) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> f = new CompletableFuture<>();
            waiters.add(new Waiter(seen, f));
            return f;
        }
    }

    /**
     * The growing ingest file (a channel of the caller's own, independent of the shared one), or
     * the committed blob once the commit renamed it.
     */
    @Override
    public FileChannel openReader() {
        try {
            synchronized (this) {
                if (failure != null) {
                    throw OciError.UNAVAILABLE.exception("the copy of " + digest + " from the remote failed: "
                            + failure.getMessage());
                }
            }
            if (!isCommitted()) {
                try {
                    return FileChannel.open(writer.ingestPath(), StandardOpenOption.READ);
                } catch (NoSuchFileException e) {
                    // renamed by the commit, or deleted by an abort, just now
                }
            }
            Optional<BlobInfo> blob = stored.apply(digest);
            if (blob.isPresent()) {
                return FileChannel.open(blob.get().path(), StandardOpenOption.READ);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw OciError.UNAVAILABLE.exception("the copy of " + digest + " from the remote is gone");
    }

    /** Completes the waiters that may go on; all of them when the copy is over. Called holding this. */
    private List<CompletableFuture<Void>> ready(boolean all) {
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (all || available > w.seen()) {
                ready.add(w.future());
                it.remove();
            }
        }
        return ready;
    }

    private static void complete(List<CompletableFuture<Void>> ready) {
        ready.forEach(f -> f.complete(null));
    }

    /**
     * Copies the blob from {@code remote} in ranged reads of at most {@code window} bytes each (so
     * that no single request spans a huge blob, and a later version may resume at a window), then
     * commits it with {@code install}, which verifies it. Any failure aborts the ingest.
     * {@code over} runs before readers hear the outcome (it forgets this copy, so that a later
     * reader finds the blob in the tier, or starts a new copy after a failure).
     */
    void run(BlobStorage remote, long window, Installer install, Runnable over) {
        try {
            byte[] buf = new byte[BUFFER];
            long off = 0;
            while (off < total) {
                if (cancelled) {
                    throw new IOException("the tier is closing");
                }
                long want = Math.min(window, total - off);
                InputStream in = remote.read(digest, off, want)
                        .orElseThrow(() -> new IOException(digest + " is gone from the remote"));
                long got = 0;
                try (in) {
                    while (got < want) {
                        if (cancelled) {
                            throw new IOException("the tier is closing");
                        }
                        int n = in.read(buf, 0, (int) Math.min(buf.length, want - got));
                        if (n < 0) {
                            break;
                        }
                        writer.write(ByteBuffer.wrap(buf, 0, n));
                        got += n;
                        published(off + got);
                    }
                }
                if (got < want) {
                    throw new IOException("the remote ended " + digest + " at " + (off + got) + " of " + total + " bytes");
                }
                off += got;
            }
            BlobInfo info = install.commit(writer);
            over.run();
            List<CompletableFuture<Void>> ready;
            synchronized (this) {
                committed = info;
                available = total;
                notifyAll();
                ready = ready(true);
            }
            complete(ready);
        } catch (Throwable e) {
            writer.abort();
            over.run();
            List<CompletableFuture<Void>> ready;
            synchronized (this) {
                failure = e;
                notifyAll();
                ready = ready(true);
            }
            complete(ready);
        } finally {
            release();
        }
    }

    /** Commits the filled writer into the tier and records it; verifies size and digest. */
    interface Installer {
        BlobInfo commit(BlobWriter writer) throws IOException;
    }

    void cancel() {
        cancelled = true;
    }

    /**
     * A stream of bytes {@code [offset, offset + length)} ({@code length} -1: to the end), or null
     * if the copy failed or is over and its channel closed (read the committed blob, or the remote,
     * or start a new copy instead).
     */
    synchronized InputStream open(long offset, long length) {
        if (refs == 0 || failure != null) {
            return null;
        }
        refs++;
        long end = length < 0 ? total : Math.min(total, offset + length);
        return new Reader(offset, Math.max(offset, end));
    }

    private void published(long size) {
        List<CompletableFuture<Void>> ready;
        synchronized (this) {
            available = size;
            notifyAll();
            ready = waiters.isEmpty() ? List.of() : ready(false);
        }
        complete(ready);
    }

    /** Waits until a byte past {@code pos} may be read or the copy committed; the readable limit. */
    private synchronized long readable(long pos) throws IOException {
        while (true) {
            if (failure != null) {
                throw new IOException("the copy of " + digest + " from the remote failed: " + failure, failure);
            }
            if (committed != null) {
                return total;
            }
            // The last byte waits for the commit's verdict.
            long limit = Math.min(available, total - 1);
            if (limit > pos) {
                return limit;
            }
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("waiting for the copy of " + digest);
            }
        }
    }

    private void release() {
        boolean close;
        synchronized (this) {
            close = --refs == 0;
        }
        if (close) {
            try {
                channel.close();
            } catch (IOException e) {
                // a read-only channel: nothing was lost
            }
        }
    }

    private final class Reader extends InputStream {
        private final long end;
        private long pos;
        private boolean closed;

        Reader(long offset, long end) {
            this.pos = offset;
            this.end = end;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (closed) {
                throw new IOException("stream closed");
            }
            if (len == 0) {
                return 0;
            }
            if (pos >= end && end < total) {
                return -1; // a range that ends before the blob does needs no verdict
            }
            long limit = Math.min(end, readable(pos));
            if (pos >= limit) {
                return -1;
            }
            int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, limit - pos)), pos);
            if (n < 0) {
                throw new IOException("the ingest file of " + digest + " is shorter than announced");
            }
            pos += n;
            return n;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                release();
            }
        }
    }

    @Override
    public synchronized String toString() {
        return "TierFill[" + digest + ", " + available + "/" + total + (committed != null ? ", committed"
                : failure != null ? ", failed" : "") + "]";
    }
}
