package ocimirror.storage.blob;

import java.nio.channels.FileChannel;
import java.util.concurrent.CompletableFuture;
import ocimirror.storage.oci.Digest;

/**
 * A blob whose local file is still being written (a download from an upstream, a copy from the
 * remote into the local tier) and may be read as it grows: a reader opens the file
 * ({@link #openReader}), reads up to {@link #available()}, and waits with {@link #awaitChange}
 * when it has caught up. Until {@link #isCommitted()} (size and digest checked) a reader must hold
 * back the blob's last byte, and once {@link #failure()} is set it must cut its client off: no
 * client ever gets a clean end of a body that turned out wrong.
 *
 * <p>Thread-safe; {@link #awaitChange} completes on a writer's thread.
 */
public interface GrowingBlob {

    Digest digest();

    /** The blob's length, or -1 when it is not known yet. */
    long contentLength();

    /** Bytes in the file so far: a reader may read this far (but see the last byte, above). */
    long available();

    boolean isCommitted();

    /** Why the blob was abandoned, or null while it grows and after it committed. */
    Throwable failure();

    /** Completes once more than {@code seen} bytes are available, or the blob committed or failed. */
    CompletableFuture<Void> awaitChange(long seen);

    /**
     * Opens the bytes for reading: the growing file (the channel stays valid when the commit
     * renames it), else the committed blob. The caller closes it.
     *
     * @throws ocimirror.storage.oci.OciException UNAVAILABLE if the blob was abandoned
     */
    FileChannel openReader();
}
