package ocimirror.server.metrics;

import static java.util.Objects.requireNonNull;

/**
 * What the operator's endpoints and the access log need, handed to the pipeline as one piece.
 *
 * @param metrics       the meters, scraped by {@code GET /metrics}
 * @param readiness     what {@code GET /readyz} answers
 * @param publicMetrics whether {@code /metrics} on the main listener skips client authentication
 */
public record Observability(MirrorMetrics metrics, Readiness readiness, boolean publicMetrics) {
    public Observability {
        requireNonNull(metrics, "metrics");
        requireNonNull(readiness, "readiness");
    }
}
