package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import ocimirror.storage.oci.Digest;

/**
 * One in-flight blob in the ingest area: bytes are hashed as they are written. Not
 * thread-safe: one writer is fed by one request at a time, on a storage executor (writes
 * block). Closing a writer that was not committed aborts it.
 */
public interface BlobWriter extends AutoCloseable {

    /** A unique id (also the ingest file name). */
    String id();

    /** The ingest file, growing while the writer is open. */
    Path ingestPath();

    /** Bytes written so far. */
    long size();

    /** Appends and hashes all remaining bytes of {@code src}. */
    void write(ByteBuffer src) throws IOException;

    /**
     * Verifies the content and makes it a committed blob: size (if {@code expectedSize >= 0})
     * and digest must match, else {@code SIZE_INVALID} / {@code DIGEST_INVALID} is thrown and the
     * ingest is discarded. Then fsync, atomic rename into place. If the blob already exists the
     * ingest is simply discarded. The writer is finished afterwards either way.
     */
    BlobInfo commit(Digest expected, long expectedSize) throws IOException;

    /** Discards the ingest. Idempotent. */
    void abort();

    @Override
    void close();
}
