package ocimirror.storage.s3;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import ocimirror.storage.blob.BlobUpload;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One blob on its way into the bucket. Bytes are hashed and gathered into a part buffer; each
 * full part is sent (the multipart upload is started with the first). The commit checks size and
 * digest before anything becomes visible: then a blob that fit in one part goes up in a single
 * PUT, and a larger one sends its last part and completes the multipart upload. Any other end
 * aborts the multipart upload.
 *
 * <p>Memory: one part buffer (direct, sent without a copy) per upload in flight. Parts are sent
 * one at a time from the writing thread, so a write that fills a part waits for its upload.
 *
 * <p>Methods are synchronized: only so that the store's {@code close} (which aborts every open
 * upload) never frees the part buffer under a write in progress.
 */
final class S3BlobUpload implements BlobUpload {
    private static final Logger log = LoggerFactory.getLogger(S3BlobUpload.class);

    private final S3BlobStore store;
    private final S3Api api;
    private final String id = UUID.randomUUID().toString();
    private final Digest digest;
    private final String key;
    private final MessageDigest hash;
    private final int partSize;
    private final List<String> etags = new ArrayList<>();
    private ByteBuf part;
    private String uploadId;
    private long size;
    private boolean finished;
    private boolean failed;

    S3BlobUpload(S3BlobStore store, Digest digest) {
        this.store = store;
        this.api = store.api();
        this.digest = digest;
        this.key = store.keys().blob(digest);
        this.hash = digest.algorithm().newMessageDigest();
        this.partSize = store.partSize();
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Digest digest() {
        return digest;
    }

    @Override
    public synchronized long size() {
        return size;
    }

    @Override
    public synchronized void write(ByteBuffer src) throws IOException {
        if (finished) {
            throw new IllegalStateException("upload " + id + " of " + digest + " is finished");
        }
        if (failed) {
            throw new IOException("upload " + id + " of " + digest + " failed an earlier write");
        }
        hash.update(src.duplicate());
        size += src.remaining();
        if (part == null) {
            part = Unpooled.directBuffer(partSize, partSize);
        }
        try {
            while (src.hasRemaining()) {
                int n = Math.min(src.remaining(), part.writableBytes());
                ByteBuffer slice = src.duplicate();
                slice.limit(slice.position() + n);
                part.writeBytes(slice);
                src.position(src.position() + n);
                if (!part.isWritable()) {
                    sendPart();
                }
            }
        } catch (IOException | RuntimeException e) {
            // Hashed bytes may now be missing from the upload: it can no longer be committed.
            failed = true;
            throw e;
        }
    }

    private void sendPart() throws IOException {
        if (uploadId == null) {
            uploadId = api.createMultipart(key);
        }
        if (etags.size() == S3BlobStore.MAX_PARTS) {
            throw new IOException("blob larger than " + S3BlobStore.MAX_PARTS + " parts of " + partSize + " bytes");
        }
        etags.add(api.uploadPart(key, uploadId, etags.size() + 1, part.retainedDuplicate()));
        part.clear();
    }

    @Override
    public synchronized void commit(long expectedSize) throws IOException {
        if (finished) {
            throw new IllegalStateException("upload " + id + " of " + digest + " is already finished");
        }
        finished = true;
        boolean committed = false;
        try {
            if (failed) {
                throw new IOException("upload " + id + " of " + digest + " failed an earlier write");
            }
            if (expectedSize >= 0 && size != expectedSize) {
                throw OciError.SIZE_INVALID.exception("expected " + expectedSize + " bytes, got " + size);
            }
            Digest actual = Digest.fromHash(digest.algorithm(), hash.digest());
            if (!digest.equals(actual)) {
                throw OciError.DIGEST_INVALID.exception("expected " + digest + ", content is " + actual);
            }
            if (uploadId == null) {
                api.put(key, part == null ? Unpooled.EMPTY_BUFFER : part.retainedDuplicate());
            } else {
                if (part.isReadable()) {
                    sendPart();
                }
                api.completeMultipart(key, uploadId, etags);
            }
            committed = true;
        } finally {
            if (!committed) {
                discard();
            }
            release();
            store.finished(this);
        }
    }

    @Override
    public synchronized void abort() {
        if (!finished) {
            finished = true;
            discard();
            release();
            store.finished(this);
        }
    }

    @Override
    public void close() {
        abort();
    }

    private void discard() {
        if (uploadId == null) {
            return;
        }
        try {
            api.abortMultipart(key, uploadId);
        } catch (IOException | RuntimeException e) {
            // Harmless but for the storage it holds: the janitor aborts it later.
            log.warn("aborting multipart upload {} of {}: {}", uploadId, key, e.toString());
        }
    }

    private void release() {
        if (part != null) {
            part.release();
            part = null;
        }
    }

    @Override
    public String toString() {
        return "S3BlobUpload[" + id + ", " + digest + ", " + size + " bytes]";
    }
}
