package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A remote upload that follows a local ingest file while it is written, on a thread of its own:
 * the writer appends locally at its own speed and this sends what has arrived, so a slow remote
 * never holds back the local write (an upstream download and the clients tailing it), and at the
 * end only the remote's lag remains to wait for. It never commits: {@link #finish} hands the upload
 * back, fed with every byte, for the writer's commit to verify and complete.
 *
 * <p>Thread-safe: {@link #run} on one thread, the rest from the writer's.
 */
final class RemoteTail implements Runnable {
    private static final int BUFFER = 1 << 20;

    private final BlobUpload upload;
    private final FileChannel file;
    // Guarded by this.
    private long written;
    private boolean last;
    private boolean aborted;
    private boolean done;
    private Throwable failure;

    /** Opens the ingest file now: the writer may abort (and delete it) before the thread starts. */
    RemoteTail(BlobUpload upload, Path ingest) throws IOException {
        this.upload = upload;
        this.file = FileChannel.open(ingest, StandardOpenOption.READ);
    }

    BlobUpload upload() {
        return upload;
    }

    /** The local file holds {@code size} bytes now. */
    synchronized void progress(long size) {
        written = size;
        notifyAll();
    }

    @Override
    public void run() {
        try (file) {
            ByteBuffer buf = ByteBuffer.allocate(BUFFER);
            long sent = 0;
            while (true) {
                long upTo;
                synchronized (this) {
                    while (sent >= written && !last && !aborted) {
                        wait();
                    }
                    if (aborted) {
                        break;
                    }
                    if (sent >= written) {
                        break; // last
                    }
                    upTo = written;
                }
                while (sent < upTo) {
                    buf.clear().limit((int) Math.min(buf.capacity(), upTo - sent));
                    int n = file.read(buf, sent);
                    if (n < 0) {
                        throw new IOException("the ingest file ended at " + sent + " of " + upTo + " bytes");
                    }
                    buf.flip();
                    upload.write(buf);
                    sent += n;
                }
            }
        } catch (Throwable e) {
            synchronized (this) {
                failure = e;
            }
        } finally {
            boolean keep;
            synchronized (this) {
                keep = !aborted && failure == null;
            }
            if (!keep) {
                upload.abort();
            }
            synchronized (this) {
                done = true;
                notifyAll();
            }
        }
    }

    /**
     * The writer wrote its last byte ({@code size} in all): waits until the upload holds them all.
     * True if it can be committed; false if it failed (it is aborted then: upload the file anew).
     */
    synchronized boolean finish(long size) throws IOException {
        written = size;
        last = true;
        notifyAll();
        awaitDone();
        return failure == null && !aborted;
    }

    /** Stops the upload and waits until it is aborted. */
    void abort() {
        synchronized (this) {
            aborted = true;
            notifyAll();
            try {
                awaitDone();
            } catch (IOException e) {
                // interrupted: the thread aborts the upload on its own
            }
        }
    }

    /** Never started (the executor refused it): nothing to wait for. */
    synchronized void notStarted() {
        aborted = true;
        done = true;
        upload.abort();
        try {
            file.close();
        } catch (IOException e) {
            // read-only
        }
    }

    private void awaitDone() throws IOException {
        while (!done) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("waiting for the upload " + upload.id());
            }
        }
    }
}
