package ocimirror.storage.blob;

import java.io.IOException;
import java.util.Optional;
import ocimirror.storage.oci.Digest;

/**
 * Content-addressed blob files: a {@link BlobStorage} whose blobs are local files. Committed blobs are immutable and verified; in-flight
 * content lives in the ingest area until {@link BlobWriter#commit} checks it and renames it
 * into place atomically, so a reader never sees a partial blob.
 *
 * <p>Thread-safe. {@link #stat} is cheap (one file-system stat) and may be called from an
 * event loop; writers do blocking I/O, hashing and fsync, and must run on a storage executor.
 */
public interface BlobStore extends BlobStorage {

    /** The committed blob, if present. */
    Optional<BlobInfo> stat(Digest digest);

    /**
     * The committed blob and, if it is at most {@link #SMALL_BLOB_BYTES} (a manifest, an image
     * config), its bytes. Small blobs read recently are kept in memory (bounded), so a manifest
     * GET on a hit touches no file; a deleted blob is forgotten. Reads a small blob's file on a
     * miss: like {@link #stat}, cheap enough for an event loop.
     */
    Optional<BlobContent> content(Digest digest);

    /**
     * As {@link #content}, and a blob that only the store's remote holds (a tier in front of S3)
     * is copied in first. For a local store the same as {@link #content}; otherwise it may block
     * on the network: storage threads only.
     */
    default Optional<BlobContent> fetchContent(Digest digest) throws IOException {
        return content(digest);
    }

    /**
     * For a store in front of a remote: the copy of a blob that the remote holds and the local
     * store lacks, started unless one runs, as a {@link GrowingBlob} readers stream as it fills.
     * Empty when the blob is local (look again with {@link #stat}) or nowhere; always empty for a
     * local store. May block on the network: storage threads only.
     */
    default Optional<GrowingBlob> copying(Digest digest) throws IOException {
        return Optional.empty();
    }

    /** Blobs up to this size come with their bytes from {@link #content}. */
    int SMALL_BLOB_BYTES = 1 << 20;

    /** Starts an ingest hashed with sha256 (and {@code algorithm}, if different). */
    BlobWriter newWriter(Digest.Algorithm algorithm) throws IOException;

    /**
     * Starts an ingest of the blob {@code expected}, named up front (a pull-through download knows
     * it; a chunked push does not, and uses {@link #newWriter(Digest.Algorithm)}). The same writer,
     * committed with the same digest; a store in front of a remote starts sending it at once.
     */
    default BlobWriter newWriterFor(Digest expected) throws IOException {
        return newWriter(expected.algorithm());
    }

    /** Writes {@code bytes} and commits them, verifying them against {@code expected} if not null. */
    BlobInfo put(byte[] bytes, Digest expected) throws IOException;

    /**
     * Who is reading or about to record which blob: eviction and garbage collection claim a digest
     * here before deleting it. One instance per store.
     */
    BlobHolds holds();

    /** Removes a committed blob; false if there was none. */
    @Override
    boolean delete(Digest digest) throws IOException;

    @Override
    void close();
}
