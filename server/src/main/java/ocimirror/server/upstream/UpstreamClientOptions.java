package ocimirror.server.upstream;

import java.time.Duration;
import java.util.Objects;

/**
 * Client-wide tuning that is not per-upstream configuration.
 *
 * @param maxManifestBytes       largest manifest body accepted (the spec suggests 4 MiB)
 * @param initialBackoff         wait before the first retry; doubled for each further one
 * @param maxBackoff             cap on the exponential backoff
 * @param maxRetryAfter          longest {@code Retry-After} the client waits out; a longer one fails
 *                               at once with {@code RATE_LIMITED} so the caller can serve stale
 * @param maxConnectionsPerHost  pooled connections per upstream host (further requests queue)
 * @param userAgent              the {@code User-Agent} header
 * @param responseListener       sees every response of the upstream's origin (metrics); {@link ResponseListener#NONE}
 */
public record UpstreamClientOptions(
        int maxManifestBytes,
        Duration initialBackoff,
        Duration maxBackoff,
        Duration maxRetryAfter,
        int maxConnectionsPerHost,
        String userAgent,
        ResponseListener responseListener) {

    public UpstreamClientOptions {
        if (maxManifestBytes <= 0) {
            throw new IllegalArgumentException("maxManifestBytes must be positive");
        }
        Objects.requireNonNull(initialBackoff, "initialBackoff");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        Objects.requireNonNull(maxRetryAfter, "maxRetryAfter");
        if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0 || maxRetryAfter.isNegative()) {
            throw new IllegalArgumentException("need 0 <= initialBackoff <= maxBackoff and maxRetryAfter >= 0");
        }
        if (maxConnectionsPerHost <= 0) {
            throw new IllegalArgumentException("maxConnectionsPerHost must be positive");
        }
        Objects.requireNonNull(userAgent, "userAgent");
        Objects.requireNonNull(responseListener, "responseListener");
    }

    public UpstreamClientOptions(int maxManifestBytes, Duration initialBackoff, Duration maxBackoff,
                                 Duration maxRetryAfter, int maxConnectionsPerHost, String userAgent) {
        this(maxManifestBytes, initialBackoff, maxBackoff, maxRetryAfter, maxConnectionsPerHost, userAgent,
                ResponseListener.NONE);
    }

    public static UpstreamClientOptions defaults() {
        return new UpstreamClientOptions(4 * 1024 * 1024, Duration.ofMillis(200), Duration.ofSeconds(5),
                Duration.ofSeconds(10), 32, "ocimirror/" + version());
    }

    public UpstreamClientOptions withBackoff(Duration initial, Duration max) {
        return new UpstreamClientOptions(maxManifestBytes, initial, max, maxRetryAfter, maxConnectionsPerHost, userAgent,
                responseListener);
    }

    public UpstreamClientOptions withMaxRetryAfter(Duration d) {
        return new UpstreamClientOptions(maxManifestBytes, initialBackoff, maxBackoff, d, maxConnectionsPerHost, userAgent,
                responseListener);
    }

    public UpstreamClientOptions withMaxManifestBytes(int n) {
        return new UpstreamClientOptions(n, initialBackoff, maxBackoff, maxRetryAfter, maxConnectionsPerHost, userAgent,
                responseListener);
    }

    public UpstreamClientOptions withResponseListener(ResponseListener l) {
        return new UpstreamClientOptions(maxManifestBytes, initialBackoff, maxBackoff, maxRetryAfter,
                maxConnectionsPerHost, userAgent, l);
    }

    /** The jar's Implementation-Version, or "dev" when run from classes (tests, IDE). */
    static String version() {
        String v = UpstreamClientOptions.class.getPackage().getImplementationVersion();
        return v == null || v.isBlank() ? "dev" : v;
    }
}
