package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import ocimirror.storage.oci.Digest;

/**
 * One blob on its way into a {@link BlobStorage}: bytes are hashed as they are written, and
 * nothing is visible until {@link #commit} has checked them. Not thread-safe: one upload is fed
 * by one thread at a time. Closing an upload that was not committed aborts it.
 */
public interface BlobUpload extends AutoCloseable {

    /** A unique id, for logs. */
    String id();

    /** Bytes written so far. */
    long size();

    /** Appends and hashes all remaining bytes of {@code src}. */
    void write(ByteBuffer src) throws IOException;

    /** The blob this upload is for. */
    Digest digest();

    /**
     * Verifies the content and makes it a committed blob: size (if {@code expectedSize >= 0}) and
     * {@link #digest} must match, else {@code SIZE_INVALID} / {@code DIGEST_INVALID} is thrown and
     * the upload is discarded. Committing a blob that already exists succeeds and leaves one blob.
     * The upload is finished afterwards either way.
     */
    void commit(long expectedSize) throws IOException;

    /** Discards the upload. Idempotent. */
    void abort();

    @Override
    void close();
}
