package ocimirror.server.upstream;

import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The {@code maxBandwidth} of one upstream, shared by all its downloads: a token bucket that
 * fills at {@code rate} bytes per second up to a burst of a tenth of a second. A download reads,
 * then {@link #take}s what it read and pauses its reading for as long as it is told: the bucket
 * may go into debt by one read per download, which the pause pays back, so over time the
 * downloads together stay at the rate. Thread-safe; Netty-free (the caller pauses by not reading
 * and schedules its resumption); time is injected.
 */
public final class TokenBucket {
    private final long rate;
    private final double burst;
    private final LongSupplier nanoTime;
    private final LongAdder pausedNanos = new LongAdder();
    private double tokens;
    private long last;

    /** @param rate bytes per second, positive */
    public TokenBucket(long rate, LongSupplier nanoTime) {
        if (rate <= 0) {
            throw new IllegalArgumentException("rate must be positive");
        }
        this.rate = rate;
        this.burst = Math.max(1, rate / 10.0);
        this.nanoTime = nanoTime;
        this.tokens = burst;
        this.last = nanoTime.getAsLong();
    }

    /**
     * Accounts for {@code bytes} just read.
     *
     * @return how long the caller must wait before reading again, in nanoseconds (0: go on)
     */
    public long take(long bytes) {
        long wait;
        synchronized (this) {
            long now = nanoTime.getAsLong();
            tokens = Math.min(burst, tokens + (now - last) * (rate / 1e9));
            last = now;
            tokens -= bytes;
            wait = tokens >= 0 ? 0 : (long) Math.ceil(-tokens * 1e9 / rate);
        }
        if (wait > 0) {
            pausedNanos.add(wait);
        }
        return wait;
    }

    /** Bytes per second. */
    public long rate() {
        return rate;
    }

    /** The time downloads were told to pause, summed over downloads, in nanoseconds. */
    public long pausedNanos() {
        return pausedNanos.sum();
    }
}
