package ocimirror.server.drain;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The client connections of one server and the exchanges in flight on them, so that a stop can
 * let transfers finish: one instance per server, shared by every connection's
 * {@link ExchangeTracker}. An exchange is in flight from the moment its request arrives until the
 * last write of its response completes, or its connection closes: an upload still receiving its
 * body, a request waiting for an upstream, a blob still being sent to a slow reader.
 *
 * <p>The stop, on the closing thread (never an event loop): the listener closes first, then
 * {@link #begin()} closes the idle connections and makes every other one close once its last
 * exchange is answered (responses written from then on say {@code Connection: close});
 * {@link #awaitInFlight} waits for the count to reach zero or the grace period to pass;
 * {@link #closeAll()} cuts what is left.
 *
 * <p>Thread-safe. The counters are updated on the event loops; only {@link #awaitInFlight} blocks.
 */
public final class ConnectionDrain {
    private final ChannelGroup channels = new DefaultChannelGroup("ocimirror-clients", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Notified when the count reaches zero while draining. */
    private final Object quiet = new Object();
    private volatile boolean draining;

    /** A new connection's tracker: one per channel, placed after the HTTP codec and the keep-alive handler. */
    public ChannelHandler newHandler() {
        return new ExchangeTracker(this);
    }

    /** Client connections open now. */
    public int connections() {
        return channels.size();
    }

    /** Exchanges in flight now, on every connection. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Whether {@link #begin()} was called. */
    public boolean draining() {
        return draining;
    }

    /**
     * Starts draining: from now on a connection closes as soon as it has no exchange in flight,
     * those idle now included (closed on their event loops, shortly after this returns). A
     * client that sends a request on an idle keep-alive connection at this very moment sees it
     * closed unanswered, as with any keep-alive connection a server closes; HTTP clients retry
     * that. Returns at once.
     */
    public void begin() {
        draining = true;
        for (Channel ch : channels) {
            ch.eventLoop().execute(() -> {
                ExchangeTracker t = ch.pipeline().get(ExchangeTracker.class);
                if (t != null) {
                    t.closeIfIdle(ch);
                }
            });
        }
    }

    /**
     * Waits until no exchange is in flight or {@code grace} has passed.
     *
     * @return whether every exchange finished
     */
    public boolean awaitInFlight(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (quiet) {
            while (inFlight.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(quiet, left);
            }
        }
        return true;
    }

    /** Closes every client connection still open (the exchanges on them are cut). */
    public ChannelGroupFuture closeAll() {
        return channels.close();
    }

    // --- from the trackers, on the event loops

    /** A new connection; closed at once if it arrives while draining (it has no exchange yet). */
    void opened(Channel ch, ExchangeTracker tracker) {
        channels.add(ch);
        if (draining) {
            tracker.closeIfIdle(ch);
        }
    }

    void started() {
        inFlight.incrementAndGet();
    }

    void ended(int n) {
        if (inFlight.addAndGet(-n) == 0 && draining) {
            synchronized (quiet) {
                quiet.notifyAll();
            }
        }
    }
}
