package ocimirror.storage.blob;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.OptionalLong;
import ocimirror.storage.oci.Digest;

/**
 * Content-addressed, verified blobs, with no promise of a local file: what every backend gives,
 * the local file system ({@link FsBlobStore}) and object storage (S3) alike. A blob becomes
 * visible only when an upload is complete and its size and digest match; a reader never sees a
 * partial blob, and an upload that is not committed leaves nothing behind.
 *
 * <p>{@link BlobStore} extends this with what only a local file can give (a {@link java.nio.file.Path}
 * for sendfile, a growing ingest file that readers tail). A shared object store sits behind a
 * local disk tier that implements {@link BlobStore} and falls back to this interface on a miss.
 *
 * <p>Thread-safe. Every method may block (a network round trip for object storage): call them
 * on a storage executor, never on an event loop.
 */
public interface BlobStorage extends AutoCloseable {

    /** The committed blob's size, if it is present. */
    OptionalLong size(Digest digest) throws IOException;

    /**
     * The committed blob's bytes from {@code offset}, at most {@code length} of them ({@code -1}:
     * to the end), or empty if there is no such blob. An offset at or past the end gives an empty
     * stream. The caller closes the stream.
     */
    Optional<InputStream> read(Digest digest, long offset, long length) throws IOException;

    /**
     * Starts an upload of the blob {@code expected}. The digest is named up front because object
     * storage has no rename: the upload goes straight to the blob's own key. Every writer of a
     * shared store knows it (a pull-through fetch asks for a digest; a push is committed to the local
     * tier, digest and all, before it is copied here).
     */
    BlobUpload newUpload(Digest expected) throws IOException;

    /** Removes a committed blob; false if there was none. */
    boolean delete(Digest digest) throws IOException;

    /** Aborts the uploads still open. */
    @Override
    void close();
}
