package ocimirror.server.upstream;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;

/**
 * Where {@link UpstreamClient#fetchBlob} puts a blob body. Calls are made one at a time, on a
 * network thread, so implementations must hand blocking work (file writes, fsync, hashing)
 * to their own executor and return a stage that completes when it is done: the client does
 * not read more from the socket until then, which keeps memory flat however large the blob.
 *
 * <p>Order: at most one {@link #onStart}, then {@link #onData} any number of times, then
 * exactly one of {@link #onComplete} or {@link #onError}. {@code onError} alone is called
 * when the fetch failed before a response arrived (after any retries).
 */
public interface BlobSink {

    /**
     * The upstream answered with the body that follows.
     *
     * @param contentLength the declared length, or -1 if the response does not declare one
     */
    CompletionStage<Void> onStart(long contentLength);

    /**
     * The next bytes of the body. {@code data} is valid only until the returned stage
     * completes; a stage that completes exceptionally aborts the transfer and its cause is
     * passed to {@link #onError}.
     */
    CompletionStage<Void> onData(ByteBuffer data);

    /** The whole body arrived, {@code bytes} in total, matching the declared length. */
    void onComplete(long bytes);

    /**
     * The transfer failed: an {@link UpstreamException} (truncated body, timeout, status),
     * the sink's own failure, or a {@link java.util.concurrent.CancellationException}.
     * Whatever the sink wrote must be discarded.
     */
    void onError(Throwable error);

    /**
     * Whether a client waits for this body now, asked while the request waits for one of the
     * upstream's {@code maxConnections}: a client's request goes before background work (prefetch).
     * Called under the limiter's lock: cheap, no blocking, no locks.
     */
    default boolean clientWaiting() {
        return true;
    }

    /** The request got its turn among the upstream's {@code maxConnections} and goes out now. */
    default void onTurn() {
    }
}
