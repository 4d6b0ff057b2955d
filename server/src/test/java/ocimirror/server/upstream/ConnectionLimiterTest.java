package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The queue of {@link ConnectionLimiter}, on a hand-advanced clock and timer. */
class ConnectionLimiterTest {

    /** A clock and a timer that run nothing until {@link #advance}. */
    static final class ManualTime implements ConnectionLimiter.Scheduler {
        long now;
        final List<Object[]> tasks = new ArrayList<>();

        @Override
        public Runnable schedule(Runnable task, long delayNanos) {
            Object[] t = {now + delayNanos, task};
            tasks.add(t);
            return () -> tasks.remove(t);
        }

        void advance(Duration d) {
            now += d.toNanos();
            for (Object[] t : List.copyOf(tasks)) {
                if ((long) t[0] <= now && tasks.remove(t)) {
                    ((Runnable) t[1]).run();
                }
            }
        }
    }

    final ManualTime time = new ManualTime();
    final ConnectionLimiter limiter = new ConnectionLimiter(2, Duration.ofSeconds(30), () -> time.now, time);

    @Test
    void beyondTheLimitRequestsWaitAndAreServedInOrder() throws Exception {
        ConnectionLimiter.Permit a = limiter.acquire(() -> true).getNow(null);
        ConnectionLimiter.Permit b = limiter.acquire(() -> true).getNow(null);
        assertTrue(a != null && b != null, "two turns at once");
        CompletableFuture<ConnectionLimiter.Permit> c = limiter.acquire(() -> true);
        CompletableFuture<ConnectionLimiter.Permit> d = limiter.acquire(() -> true);
        assertFalse(c.isDone() || d.isDone());
        assertEquals(2, limiter.inUse());
        assertEquals(2, limiter.queued());

        time.advance(Duration.ofSeconds(3));
        a.release();
        a.release(); // twice is once
        assertTrue(c.isDone(), "the first waiter gets the freed turn");
        assertFalse(d.isDone());
        assertEquals(2, limiter.inUse());
        b.release();
        assertTrue(d.isDone());
        c.get().release();
        d.get().release();
        assertEquals(0, limiter.inUse());
        assertEquals(2, limiter.waits());
        assertEquals(2, limiter.waitsEnded());
        assertEquals(Duration.ofSeconds(6).toNanos(), limiter.waitedNanos(), "3 s each");
        assertTrue(time.tasks.isEmpty(), "granted waiters' timers are cancelled");
    }

    @Test
    void clientsGoBeforeBackgroundWorkAndAJoinedPrefetchMovesAhead() {
        ConnectionLimiter.Permit a = limiter.acquire(() -> true).getNow(null);
        ConnectionLimiter.Permit b = limiter.acquire(() -> true).getNow(null);
        CompletableFuture<ConnectionLimiter.Permit> prefetch1 = limiter.acquire(() -> false);
        AtomicBoolean joined = new AtomicBoolean();
        CompletableFuture<ConnectionLimiter.Permit> prefetch2 = limiter.acquire(joined::get);
        CompletableFuture<ConnectionLimiter.Permit> client = limiter.acquire(() -> true);

        a.release();
        assertTrue(client.isDone(), "the client passes the prefetches queued before it");
        assertFalse(prefetch1.isDone() || prefetch2.isDone());
        joined.set(true); // a client asks for prefetch2's blob
        b.release();
        assertTrue(prefetch2.isDone());
        assertFalse(prefetch1.isDone());
        client.join().release();
        assertTrue(prefetch1.isDone(), "background work still gets its turn");
    }

    @Test
    void aWaitPastTheTimeoutFailsAndLeavesTheQueue() {
        ConnectionLimiter.Permit a = limiter.acquire(() -> true).getNow(null);
        limiter.acquire(() -> true).getNow(null);
        CompletableFuture<ConnectionLimiter.Permit> late = limiter.acquire(() -> true);
        time.advance(Duration.ofSeconds(29));
        assertFalse(late.isDone());
        time.advance(Duration.ofSeconds(1));
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, late::get);
        assertInstanceOf(TimeoutException.class, e.getCause());
        assertEquals(0, limiter.queued());
        assertEquals(1, limiter.timeouts());
        a.release();
        assertEquals(1, limiter.inUse(), "the freed turn went to nobody");
    }

    @Test
    void aCancelledWaiterLeavesTheQueueAndItsTurnGoesToTheNext() {
        ConnectionLimiter.Permit a = limiter.acquire(() -> true).getNow(null);
        limiter.acquire(() -> true).getNow(null);
        CompletableFuture<ConnectionLimiter.Permit> gone = limiter.acquire(() -> true);
        CompletableFuture<ConnectionLimiter.Permit> next = limiter.acquire(() -> true);
        gone.cancel(false);
        assertEquals(1, limiter.queued());
        assertEquals(1, time.tasks.size(), "its timer is cancelled");
        a.release();
        assertTrue(next.isDone() && !next.isCompletedExceptionally());
        assertEquals(2, limiter.inUse());
    }
}
