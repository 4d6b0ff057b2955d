package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicBoolean;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;

/**
 * A write into the {@link TieredBlobStore}: bytes go to a local ingest file exactly as with
 * {@link FsBlobStore} (so the pull-through's followers tail it as today). {@link #commit} then
 * copies the file to the remote, which verifies the digest and makes the blob visible there, and
 * only then installs the local file: when commit returns the blob is durable remotely, and a crash
 * before that leaves neither a remote blob nor a tier file (the ingest is wiped at start, the
 * remote's unfinished upload aborted by its janitor).
 */
final class TierWriter implements BlobWriter {
    private static final int BUFFER = 1 << 20;

    private final TieredBlobStore tier;
    private final BlobWriter local;
    private final AtomicBoolean finished = new AtomicBoolean();
    /** The upload following the ingest file when the digest was named up front, else null. */
    private final RemoteTail tail;
    private final Digest tailDigest;

    TierWriter(TieredBlobStore tier, BlobWriter local, RemoteTail tail, Digest tailDigest) {
        this.tier = tier;
        this.local = local;
        this.tail = tail;
        this.tailDigest = tailDigest;
    }

    @Override
    public String id() {
        return local.id();
    }

    @Override
    public Path ingestPath() {
        return local.ingestPath();
    }

    @Override
    public long size() {
        return local.size();
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
        if (finished.get()) {
            throw new IllegalStateException("blob writer " + id() + " is finished");
        }
        local.write(src);
        if (tail != null) {
            tail.progress(local.size());
        }
    }

    @Override
    public BlobInfo commit(Digest expected, long expectedSize) throws IOException {
        if (!finished.compareAndSet(false, true)) {
            throw new IllegalStateException("blob writer " + id() + " is already finished");
        }
        boolean committed = false;
        try {
            long size = local.size();
            if (expectedSize >= 0 && size != expectedSize) {
                throw OciError.SIZE_INVALID.exception("expected " + expectedSize + " bytes, got " + size);
            }
            // The remote needs the digest before the first byte; a caller that names none is rare.
            Digest digest = expected != null ? expected : hash(Digest.Algorithm.SHA256);
            if (!commitTail(digest, size)) {
                tier.toRemote(digest, size, this::copyTo);
            }
            BlobInfo info = tier.install(digest, () -> local.commit(digest, size));
            committed = true;
            return info;
        } finally {
            if (!committed) {
                if (tail != null) {
                    tail.abort();
                }
                local.abort();
            }
            tier.finished(this);
        }
    }

    /**
     * Completes the upload that followed the writes, if there is one for this digest and it got
     * every byte; false if the file must be uploaded now (no such upload, or it failed).
     */
    private boolean commitTail(Digest digest, long size) throws IOException {
        if (tail == null) {
            return false;
        }
        if (!digest.equals(tailDigest) || !tail.finish(size)) {
            tail.abort();
            return false;
        }
        try (BlobUpload upload = tail.upload()) {
            upload.commit(size);
        }
        return true;
    }

    /** Sends the ingest file to {@code upload}, without committing it. */
    private void copyTo(BlobUpload upload) throws IOException {
        try (FileChannel ch = FileChannel.open(local.ingestPath(), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(BUFFER);
            while (ch.read(buf) >= 0) {
                buf.flip();
                upload.write(buf);
                buf.clear();
            }
        }
    }

    private Digest hash(Digest.Algorithm algorithm) throws IOException {
        MessageDigest md = algorithm.newMessageDigest();
        try (FileChannel ch = FileChannel.open(local.ingestPath(), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(BUFFER);
            while (ch.read(buf) >= 0) {
                buf.flip();
                md.update(buf);
                buf.clear();
            }
        }
        return Digest.fromHash(algorithm, md.digest());
    }

    @Override
    public void abort() {
        if (finished.compareAndSet(false, true)) {
            if (tail != null) {
                tail.abort();
            }
            local.abort();
            tier.finished(this);
        }
    }

    @Override
    public void close() {
        abort();
    }

    @Override
    public String toString() {
        return "TierWriter[" + id() + ", " + size() + " bytes]";
    }
}
