package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicBoolean;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file in {@code ingest/}, hashed as it is written. Writes go straight to the channel (no
 * user-space buffer), so a reader tailing {@link #ingestPath()} can read up to {@link #size()}.
 */
final class FsBlobWriter implements BlobWriter {
    private static final Logger log = LoggerFactory.getLogger(FsBlobWriter.class);
    private static final int REHASH_BUFFER = 1 << 16;

    private final FsBlobStore store;
    private final String id;
    private final Path path;
    private final FileChannel channel;
    private final MessageDigest sha256;
    /** The requested algorithm's hash when it is not sha256, else null. */
    private final MessageDigest other;
    private final Digest.Algorithm otherAlgorithm;
    private final AtomicBoolean finished = new AtomicBoolean();
    // Written by the one writing thread, read by tailing readers on other threads.
    private volatile long size;
    private boolean failed;

    FsBlobWriter(FsBlobStore store, String id, Path path, Digest.Algorithm algorithm) throws IOException {
        this.store = store;
        this.id = id;
        this.path = path;
        this.sha256 = Digest.Algorithm.SHA256.newMessageDigest();
        this.otherAlgorithm = algorithm == Digest.Algorithm.SHA256 ? null : algorithm;
        this.other = otherAlgorithm == null ? null : otherAlgorithm.newMessageDigest();
        // READ too: commit may have to re-hash the file under an algorithm not hashed while writing.
        this.channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.READ);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Path ingestPath() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
        if (finished.get()) {
            throw new IllegalStateException("blob writer " + id + " is finished");
        }
        ByteBuffer written = src.duplicate();
        int start = src.position();
        try {
            while (src.hasRemaining()) {
                channel.write(src);
            }
        } catch (IOException | RuntimeException e) {
            // The file may now hold bytes the hash never saw: this writer can no longer commit.
            failed = true;
            throw e;
        }
        written.limit(src.position());
        if (other != null) {
            other.update(written.duplicate());
        }
        sha256.update(written);
        size += src.position() - start;
    }

    @Override
    public BlobInfo commit(Digest expected, long expectedSize) throws IOException {
        if (!finished.compareAndSet(false, true)) {
            throw new IllegalStateException("blob writer " + id + " is already finished");
        }
        boolean committed = false;
        try {
            if (failed) {
                throw new IOException("blob writer " + id + " failed an earlier write");
            }
            long actualSize = size;
            if (expectedSize >= 0 && actualSize != expectedSize) {
                throw OciError.SIZE_INVALID.exception("expected " + expectedSize + " bytes, got " + actualSize);
            }
            Digest actual = digest(expected == null ? Digest.Algorithm.SHA256 : expected.algorithm());
            if (expected != null && !expected.equals(actual)) {
                throw OciError.DIGEST_INVALID.exception("expected " + expected + ", content is " + actual);
            }
            channel.force(true);
            channel.close();
            BlobInfo info = store.install(path, actual, actualSize);
            committed = true;
            return info;
        } finally {
            if (!committed) {
                discard();
            }
            store.finished(this);
        }
    }

    @Override
    public void abort() {
        if (finished.compareAndSet(false, true)) {
            discard();
            store.finished(this);
        }
    }

    @Override
    public void close() {
        abort();
    }

    private Digest digest(Digest.Algorithm algorithm) throws IOException {
        if (algorithm == Digest.Algorithm.SHA256) {
            return Digest.fromHash(algorithm, sha256.digest());
        }
        if (algorithm == otherAlgorithm) {
            return Digest.fromHash(algorithm, other.digest());
        }
        // The writer was opened before the client named its digest (a chunked upload): read it back.
        MessageDigest md = algorithm.newMessageDigest();
        ByteBuffer buf = ByteBuffer.allocate(REHASH_BUFFER);
        long pos = 0;
        while (true) {
            int n = channel.read(buf, pos);
            if (n < 0) {
                break;
            }
            pos += n;
            buf.flip();
            md.update(buf);
            buf.clear();
        }
        return Digest.fromHash(algorithm, md.digest());
    }

    private void discard() {
        try {
            channel.close();
        } catch (IOException e) {
            log.warn("closing ingest file {}: {}", path, e.toString());
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // Harmless: ingest/ is wiped at the next start.
            log.warn("deleting ingest file {}: {}", path, e.toString());
        }
    }

    @Override
    public String toString() {
        return "FsBlobWriter[" + id + ", " + size + " bytes]";
    }
}
