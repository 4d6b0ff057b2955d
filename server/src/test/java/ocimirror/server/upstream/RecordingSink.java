package ocimirror.server.upstream;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link BlobSink} that keeps what it gets. With a delay, every stage completes later on
 * another thread, like a sink that writes to disk on a storage executor.
 */
final class RecordingSink implements BlobSink {

    final CompletableFuture<Long> completed = new CompletableFuture<>();
    final CompletableFuture<Throwable> failed = new CompletableFuture<>();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final List<String> events = new ArrayList<>();
    private final AtomicInteger outstanding = new AtomicInteger();
    private final long delayMicros;
    private final ScheduledExecutorService executor;
    private volatile int maxOutstanding;
    private volatile int largestPiece;
    private volatile int heapPieces;
    private volatile long declaredLength = -2;
    private volatile RuntimeException failData;

    RecordingSink() {
        this(0);
    }

    RecordingSink(long delayMicros) {
        this.delayMicros = delayMicros;
        this.executor = delayMicros > 0 ? Executors.newSingleThreadScheduledExecutor() : null;
    }

    /** Makes every onData stage fail with {@code e}. */
    RecordingSink failingWith(RuntimeException e) {
        failData = e;
        return this;
    }

    @Override
    public synchronized CompletionStage<Void> onStart(long contentLength) {
        events.add("start");
        declaredLength = contentLength;
        return later();
    }

    @Override
    public synchronized CompletionStage<Void> onData(ByteBuffer data) {
        int now = outstanding.incrementAndGet();
        maxOutstanding = Math.max(maxOutstanding, now);
        events.add("data");
        byte[] b = new byte[data.remaining()];
        largestPiece = Math.max(largestPiece, b.length);
        if (!data.isDirect()) {
            heapPieces++;
        }
        data.get(b);
        bytes.write(b, 0, b.length);
        if (failData != null) {
            outstanding.decrementAndGet();
            return CompletableFuture.failedFuture(failData);
        }
        CompletableFuture<Void> stage = later();
        return stage.whenComplete((v, e) -> outstanding.decrementAndGet());
    }

    private CompletableFuture<Void> later() {
        if (executor == null) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        executor.schedule(() -> f.complete(null), delayMicros, TimeUnit.MICROSECONDS);
        return f;
    }

    @Override
    public synchronized void onComplete(long n) {
        events.add("complete");
        completed.complete(n);
        shutdown();
    }

    @Override
    public synchronized void onError(Throwable error) {
        events.add("error");
        failed.complete(error);
        shutdown();
    }

    private void shutdown() {
        if (executor != null) {
            executor.shutdown();
        }
    }

    synchronized byte[] bytes() {
        return bytes.toByteArray();
    }

    synchronized List<String> events() {
        return List.copyOf(events);
    }

    /** The call sequence compressed: runs of "data" become one. */
    synchronized List<String> shape() {
        List<String> out = new ArrayList<>();
        for (String e : events) {
            if (!(e.equals("data") && !out.isEmpty() && out.get(out.size() - 1).equals("data"))) {
                out.add(e);
            }
        }
        return out;
    }

    long declaredLength() {
        return declaredLength;
    }

    int maxOutstanding() {
        return maxOutstanding;
    }

    /** How many onData calls were given a heap buffer (a copy of the body through the Java heap). */
    int heapPieces() {
        return heapPieces;
    }

    /** The most bytes one onData was given. */
    int largestPiece() {
        return largestPiece;
    }

    synchronized int dataCalls() {
        return (int) events.stream().filter("data"::equals).count();
    }
}
