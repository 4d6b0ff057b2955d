package ocimirror.server.upstream;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.UpstreamLimits;

/**
 * What one upstream's {@link UpstreamLimits} are enforced with: its connection turns (counted
 * even without a limit, for the in-use gauge) and its bandwidth bucket (null without a limit).
 *
 * @param upstream    the upstream's name
 * @param connections the turns of {@code maxConnections}; a wait ends after the first-byte timeout
 * @param bandwidth   the bucket of {@code maxBandwidth}, or null
 */
public record UpstreamLimiter(String upstream, ConnectionLimiter connections, TokenBucket bandwidth) {

    public UpstreamLimiter {
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(connections, "connections");
    }

    /** The limiter for {@code config}, its queue timers on {@code group}. */
    static UpstreamLimiter of(UpstreamConfig config, EventLoopGroup group) {
        UpstreamLimits l = config.limits();
        ConnectionLimiter.Scheduler timers = (task, nanos) -> {
            ScheduledFuture<?> f = group.next().schedule(task, nanos, TimeUnit.NANOSECONDS);
            return () -> f.cancel(false);
        };
        return new UpstreamLimiter(config.name(),
                new ConnectionLimiter(l.limitsConnections() ? l.maxConnections() : Integer.MAX_VALUE,
                        config.timeouts().firstByte(), System::nanoTime, timers),
                l.limitsBandwidth() ? new TokenBucket(l.maxBandwidth(), System::nanoTime) : null);
    }
}
