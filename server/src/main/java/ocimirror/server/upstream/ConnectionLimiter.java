package ocimirror.server.upstream;

import java.util.Iterator;
import java.util.LinkedList;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * The turns of one upstream's {@code maxConnections}: at most {@code max} requests hold a
 * {@link Permit} at once; the others wait in a queue, never on a thread. A freed turn goes to the
 * oldest waiter that a client is waiting for, else to the oldest waiter (background prefetch): so
 * prefetch yields to clients, and among equals it is first come, first served. A waiter leaves the
 * queue when its future is cancelled (its clients left), or after {@code timeout}, failing with a
 * {@link TimeoutException} (the caller answers 503, so containerd tries its next host).
 *
 * <p>Thread-safe; futures complete on the thread that released the turn or ran the timer, so
 * their dependants must not block. Netty-free: time and timers are injected.
 */
public final class ConnectionLimiter {

    /** Runs tasks later; returns what cancels the task. */
    @FunctionalInterface
    public interface Scheduler {
        Runnable schedule(Runnable task, long delayNanos);
    }

    /** One turn; {@link #release()} gives it back (again is a no-op). */
    public interface Permit {
        void release();
    }

    private final int max;
    private final long timeoutNanos;
    private final LongSupplier nanoTime;
    private final Scheduler scheduler;
    // Short in practice (bounded by concurrent cold pulls); removal from the middle on cancel and timeout.
    private final LinkedList<Waiter> queue = new LinkedList<>();
    private int inUse;
    private final LongAdder waits = new LongAdder();
    private final LongAdder waited = new LongAdder();
    private final LongAdder waitedNanos = new LongAdder();
    private final LongAdder timeouts = new LongAdder();

    private final class Waiter {
        final BooleanSupplier urgent;
        final long since;
        final CompletableFuture<Permit> future = new CompletableFuture<>();
        volatile Runnable cancelTimer = () -> { };

        Waiter(BooleanSupplier urgent, long since) {
            this.urgent = urgent;
            this.since = since;
        }
    }

    /**
     * @param max      turns at once; {@link Integer#MAX_VALUE} for no limit (turns are still counted)
     * @param timeout  longest wait in the queue
     * @param nanoTime {@link System#nanoTime} outside tests
     */
    public ConnectionLimiter(int max, java.time.Duration timeout, LongSupplier nanoTime, Scheduler scheduler) {
        if (max <= 0) {
            throw new IllegalArgumentException("max must be positive");
        }
        this.max = max;
        this.timeoutNanos = timeout.toNanos();
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
    }

    /**
     * A turn, at once if one is free and nobody waits, else when one is freed for it.
     *
     * @param urgent whether a client waits for this request now (asked again each time a turn is
     *               freed: a prefetch that a client joins moves ahead); must be cheap and not block
     */
    public CompletableFuture<Permit> acquire(BooleanSupplier urgent) {
        Waiter w;
        synchronized (this) {
            if (inUse < max && queue.isEmpty()) {
                inUse++;
                return CompletableFuture.completedFuture(new Turn());
            }
            w = new Waiter(urgent, nanoTime.getAsLong());
            queue.add(w);
        }
        waits.increment();
        w.cancelTimer = scheduler.schedule(() -> expire(w), timeoutNanos);
        w.future.whenComplete((p, e) -> {
            if (w.future.isCancelled() && leave(w)) {
                w.cancelTimer.run();
            }
        });
        return w.future;
    }

    private void expire(Waiter w) {
        if (leave(w)) {
            timeouts.increment();
            w.future.completeExceptionally(new TimeoutException("no turn among the " + max + " connections within "
                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms"));
        }
    }

    /** Takes {@code w} out of the queue; false if it was not there (granted, expired or cancelled already). */
    private boolean leave(Waiter w) {
        synchronized (this) {
            if (!queue.remove(w)) {
                return false;
            }
        }
        ended(w);
        return true;
    }

    private void ended(Waiter w) {
        waited.increment();
        waitedNanos.add(Math.max(0, nanoTime.getAsLong() - w.since));
    }

    private void release() {
        while (true) {
            Waiter next;
            synchronized (this) {
                next = pick();
                if (next == null) {
                    inUse--;
                    return;
                }
            }
            // The turn passes on without being freed, so nobody can take it in between.
            next.cancelTimer.run();
            ended(next);
            if (next.future.complete(new Turn())) {
                return;
            }
            // cancelled meanwhile: give the turn to the next one
        }
    }

    // Under the lock: the oldest urgent waiter, else the oldest.
    private Waiter pick() {
        for (Iterator<Waiter> it = queue.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (w.urgent.getAsBoolean()) {
                it.remove();
                return w;
            }
        }
        return queue.poll();
    }

    private final class Turn implements Permit {
        private final AtomicBoolean released = new AtomicBoolean();

        @Override
        public void release() {
            if (released.compareAndSet(false, true)) {
                ConnectionLimiter.this.release();
            }
        }
    }

    /** The limit; {@link Integer#MAX_VALUE} for none. */
    public int max() {
        return max;
    }

    /** Turns held now. */
    public synchronized int inUse() {
        return inUse;
    }

    /** Requests waiting for a turn now. */
    public synchronized int queued() {
        return queue.size();
    }

    /** Requests that had to wait for a turn, since creation. */
    public long waits() {
        return waits.sum();
    }

    /** Waits that ended (turn granted, timed out or left), and their total time in nanoseconds. */
    public long waitsEnded() {
        return waited.sum();
    }

    public long waitedNanos() {
        return waitedNanos.sum();
    }

    /** Waits that gave up after the timeout. */
    public long timeouts() {
        return timeouts.sum();
    }
}
