package ocimirror.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The {@code metrics:} and {@code log:} sections: what the mirror tells its operator. Null
 * components take the defaults below.
 *
 * <pre>
 * metrics:
 *   public: true                  # GET /metrics on the main listener without client credentials
 *   adminListen: 127.0.0.1:9090   # /metrics, /healthz, /readyz and /admin/pins there, plain HTTP; absent: none
 *   cacheSizeInterval: 5m         # how often blobs/ is measured for ocimirror_cache_size_bytes
 * log:
 *   format: text                  # text | json; the environment's OCIMIRROR_LOG_FORMAT wins
 * </pre>
 *
 * <p>Why {@code public: true} by default: Prometheus scrapes without credentials in nearly every
 * setup, and the metrics name no repository or user (their labels are route kinds, statuses and
 * upstream names). {@code /healthz} and {@code /readyz} never need credentials: kubelet probes
 * send none.
 *
 * @param metrics the metrics endpoints
 * @param log     the log output
 */
public record ObservabilityConfig(Metrics metrics, Log log) {

    public ObservabilityConfig {
        metrics = metrics == null ? Metrics.defaults() : metrics;
        log = log == null ? Log.defaults() : log;
    }

    public static ObservabilityConfig defaults() {
        return new ObservabilityConfig(null, null);
    }

    /**
     * @param publicMetrics     serve {@code /metrics} on the main listener to clients without credentials
     *                          when client authentication is on ({@code metrics.public})
     * @param adminListen       a second, plain-HTTP listener for the metrics, probes and admin API only; null: none
     * @param cacheSizeInterval how often the size of {@code blobs/} is measured (a walk of the directory)
     */
    public record Metrics(boolean publicMetrics, MirrorConfig.Listen adminListen, Duration cacheSizeInterval) {
        public static final Duration DEFAULT_CACHE_SIZE_INTERVAL = Duration.ofMinutes(5);

        public Metrics {
            cacheSizeInterval = cacheSizeInterval == null ? DEFAULT_CACHE_SIZE_INTERVAL : cacheSizeInterval;
            if (cacheSizeInterval.isNegative() || cacheSizeInterval.isZero()) {
                throw new IllegalArgumentException("metrics.cacheSizeInterval: must be positive");
            }
        }

        public static Metrics defaults() {
            return new Metrics(true, null, null);
        }
    }

    /** How log lines are written to stderr. */
    public enum LogFormat {
        /** One human-readable line per event; the access log's fields as {@code key=value}. */
        TEXT,
        /** One JSON object per line (Logback's JsonEncoder); the access log's fields under {@code mdc}. */
        JSON;

        /** Parses {@code text} or {@code json}, case-insensitive. */
        public static LogFormat fromName(String name, String field) {
            return TlsConfig.parse(LogFormat.class, name, field, "text or json");
        }
    }

    /** @param format text or JSON lines */
    public record Log(LogFormat format) {
        public Log {
            Objects.requireNonNull(format, "format");
        }

        public static Log defaults() {
            return new Log(LogFormat.TEXT);
        }
    }
}
