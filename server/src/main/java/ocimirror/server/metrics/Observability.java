package ocimirror.server.metrics;

import static java.util.Objects.requireNonNull;

import ocimirror.server.access.AuditLog;

/**
 * What the operator's endpoints and the access log need, handed to the pipeline as one piece.
 *
 * @param metrics       the meters, scraped by {@code GET /metrics}
 * @param readiness     what {@code GET /readyz} answers
 * @param publicMetrics whether {@code /metrics} on the main listener skips client authentication
 * @param audit         the audit log of pulls, or null (off)
 */
public record Observability(MirrorMetrics metrics, Readiness readiness, boolean publicMetrics, AuditLog audit) {
    public Observability {
        requireNonNull(metrics, "metrics");
        requireNonNull(readiness, "readiness");
    }

    public Observability(MirrorMetrics metrics, Readiness readiness, boolean publicMetrics) {
        this(metrics, readiness, publicMetrics, null);
    }
}
