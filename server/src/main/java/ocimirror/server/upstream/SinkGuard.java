package ocimirror.server.upstream;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Adapts a {@link BlobSink}: counts bytes, remembers whether the body started, and makes the terminal call exactly once. */
final class SinkGuard implements Exchange.BodyTarget {

    private static final Logger LOG = LoggerFactory.getLogger(SinkGuard.class);

    private final BlobSink sink;
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicBoolean terminated = new AtomicBoolean();
    private volatile boolean started;

    SinkGuard(BlobSink sink) {
        this.sink = sink;
    }

    /** True once the sink got {@code onStart}: from then on the request is never retried. */
    boolean started() {
        return started;
    }

    boolean clientWaiting() {
        return sink.clientWaiting();
    }

    void onTurn() {
        try {
            sink.onTurn();
        } catch (RuntimeException e) {
            LOG.warn("blob sink failed in onTurn", e);
        }
    }

    long bytes() {
        return bytes.get();
    }

    @Override
    public CompletionStage<Void> start(long contentLength) {
        started = true;
        return sink.onStart(contentLength);
    }

    @Override
    public CompletionStage<Void> data(ByteBuffer data) {
        bytes.addAndGet(data.remaining());
        return sink.onData(data);
    }

    void complete() {
        if (terminated.compareAndSet(false, true)) {
            try {
                sink.onComplete(bytes.get());
            } catch (RuntimeException e) {
                LOG.warn("blob sink failed in onComplete", e);
            }
        }
    }

    void error(Throwable t) {
        if (terminated.compareAndSet(false, true)) {
            try {
                sink.onError(t);
            } catch (RuntimeException e) {
                LOG.warn("blob sink failed in onError", e);
            }
        }
    }
}
