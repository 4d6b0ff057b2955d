package ocimirror.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import ocimirror.server.upstream.ConnectionLimiter;
import ocimirror.server.upstream.ResponseListener;
import ocimirror.server.upstream.TokenBucket;
import ocimirror.server.upstream.UpstreamLimiter;
import ocimirror.server.upstream.UpstreamException;

/**
 * The {@code ocimirror_upstream_*} meters: logical requests (retries inside the client are one
 * request) by upstream, operation and outcome, their latency, the bytes received, and the
 * rate limit the upstream reports. Thread-safe.
 */
final class UpstreamMeters {
    private final MeterRegistry registry;
    private final Duration[] buckets;
    private final Map<String, Counter> requests = new ConcurrentHashMap<>();
    private final Map<String, Timer> durations = new ConcurrentHashMap<>();
    private final Map<String, Counter> bytes = new ConcurrentHashMap<>();
    private final Map<String, RateLimit> rateLimits = new ConcurrentHashMap<>();

    /** What an upstream last said about its rate limit; NaN until it says anything. */
    private static final class RateLimit {
        volatile double remaining = Double.NaN;
        volatile double limit = Double.NaN;
    }

    UpstreamMeters(MeterRegistry registry, Duration[] buckets) {
        this.registry = registry;
        this.buckets = buckets.clone();
    }

    /** Registers the rate-limit gauges of {@code upstream}. */
    void rateLimit(String upstream) {
        rateLimits.computeIfAbsent(upstream, u -> {
            RateLimit r = new RateLimit();
            Gauge.builder("ocimirror.upstream.ratelimit.remaining", r, x -> x.remaining).tag("upstream", u)
                    .description("Requests left in the upstream's rate-limit window, as its last response said"
                            + " (Docker Hub's ratelimit-remaining); NaN if it never said").register(registry);
            Gauge.builder("ocimirror.upstream.ratelimit.limit", r, x -> x.limit).tag("upstream", u)
                    .description("The upstream's rate limit per window, as its last response said").register(registry);
            return r;
        });
    }

    /** Registers the meters of an upstream's {@code maxConnections} turns and {@code maxBandwidth} pauses. */
    void limits(UpstreamLimiter l) {
        ConnectionLimiter c = l.connections();
        String u = l.upstream();
        Gauge.builder("ocimirror.upstream.connections.in.use", c, ConnectionLimiter::inUse).tag("upstream", u)
                .description("Requests to the upstream in flight now (each holds one of its maxConnections)")
                .register(registry);
        Gauge.builder("ocimirror.upstream.connections.queued", c, ConnectionLimiter::queued).tag("upstream", u)
                .description("Requests waiting for one of the upstream's maxConnections now").register(registry);
        FunctionCounter.builder("ocimirror.upstream.connections.waits", c, ConnectionLimiter::waits).tag("upstream", u)
                .description("Requests that had to wait for one of the upstream's maxConnections").register(registry);
        FunctionTimer.builder("ocimirror.upstream.connections.wait", c, ConnectionLimiter::waitsEnded,
                        ConnectionLimiter::waitedNanos, TimeUnit.NANOSECONDS).tag("upstream", u)
                .description("Time requests waited for one of the upstream's maxConnections (waits that ended)")
                .register(registry);
        FunctionCounter.builder("ocimirror.upstream.connections.timeouts", c, ConnectionLimiter::timeouts)
                .tag("upstream", u).description("Waits for one of the upstream's maxConnections that gave up after"
                        + " its first-byte timeout (answered 503)").register(registry);
        TokenBucket b = l.bandwidth();
        if (b != null) {
            FunctionCounter.builder("ocimirror.upstream.bandwidth.paused", b, x -> x.pausedNanos() / 1e9)
                    .baseUnit("seconds").tag("upstream", u)
                    .description("Time downloads from the upstream paused reading to keep to its maxBandwidth,"
                            + " summed over downloads").register(registry);
        }
    }

    Collection<String> names() {
        return rateLimits.keySet();
    }

    /** Reads the rate-limit headers of upstream responses. */
    ResponseListener listener() {
        return (upstream, status, headers) -> {
            RateLimit r = rateLimits.get(upstream);
            if (r == null) {
                return;
            }
            double remaining = parse(headers, "ratelimit-remaining");
            if (!Double.isNaN(remaining)) {
                r.remaining = remaining;
                double limit = parse(headers, "ratelimit-limit");
                if (!Double.isNaN(limit)) {
                    r.limit = limit;
                }
            }
        };
    }

    /**
     * The count of a rate-limit header: Docker Hub sends {@code ratelimit-remaining: 76;w=21600}
     * (count; window in seconds), others {@code x-ratelimit-remaining: 76}. NaN if absent or malformed.
     */
    static double parse(HttpHeaders headers, String name) {
        String v = headers.get(name);
        if (v == null) {
            v = headers.get("x-" + name);
        }
        if (v == null) {
            return Double.NaN;
        }
        int semi = v.indexOf(';');
        String count = (semi < 0 ? v : v.substring(0, semi)).trim();
        try {
            long n = Long.parseLong(count);
            return n < 0 ? Double.NaN : n;
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** One logical request ended ({@code failure} null: it succeeded). */
    void request(String upstream, String op, Throwable failure, long nanos) {
        String outcome = outcome(failure);
        requests.computeIfAbsent(upstream + "\0" + op + "\0" + outcome, k -> Counter.builder("ocimirror.upstream.requests")
                .tag("upstream", upstream).tag("op", op).tag("outcome", outcome)
                .description("Requests to upstreams (retries included in one), by operation and outcome")
                .register(registry)).increment();
        durations.computeIfAbsent(upstream + "\0" + op, k -> Timer.builder("ocimirror.upstream.request.duration")
                .tag("upstream", upstream).tag("op", op)
                .description("Upstream request latency: to the manifest, or to a blob's last byte")
                .serviceLevelObjectives(buckets).register(registry)).record(nanos, TimeUnit.NANOSECONDS);
    }

    /** {@code n} body bytes received from {@code upstream}. */
    void received(String upstream, long n) {
        bytes.computeIfAbsent(upstream, u -> Counter.builder("ocimirror.upstream.received").baseUnit("bytes")
                .tag("upstream", u).description("Manifest and blob bytes received from upstreams")
                .register(registry)).increment(n);
    }

    /** {@code ok}, the {@link UpstreamException.Kind} in lower case, {@code cancelled} or {@code error}. */
    static String outcome(Throwable failure) {
        if (failure == null) {
            return "ok";
        }
        UpstreamException u = UpstreamException.find(failure);
        if (u != null) {
            return MirrorMetrics.lower(u.kind());
        }
        Throwable t = failure;
        while (t.getCause() != null && t.getCause() != t && !(t instanceof CancellationException)) {
            t = t.getCause();
        }
        return t instanceof CancellationException ? "cancelled" : "error";
    }
}
