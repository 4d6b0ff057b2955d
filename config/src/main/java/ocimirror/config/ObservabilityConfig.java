package ocimirror.config;

import java.nio.file.Path;
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

    /**
     * @param format text or JSON lines
     * @param audit  the audit log of pulls; null: none (the default)
     */
    public record Log(LogFormat format, Audit audit) {
        public Log {
            Objects.requireNonNull(format, "format");
        }

        public Log(LogFormat format) {
            this(format, null);
        }

        public static Log defaults() {
            return new Log(LogFormat.TEXT);
        }
    }

    /**
     * The audit log of pulls ({@code log.audit}): one JSON line per manifest GET (and per blob GET
     * with {@code blobs}), to its own file, rotated by size, or to standard output.
     *
     * @param file    where the lines go; null: standard output
     * @param blobs   whether blob GETs are logged too
     * @param maxSize bytes a file may reach before it is rotated ({@code audit.log} becomes {@code audit.log.1})
     * @param keep    rotated files kept ({@code .1} to {@code .keep}), 1 to {@link #MAX_KEEP}
     */
    public record Audit(Path file, boolean blobs, long maxSize, int keep) {
        public static final long DEFAULT_MAX_SIZE = 100L << 20;
        public static final int DEFAULT_KEEP = 5;
        /** Logback's fixed-window rolling keeps at most 20 files. */
        public static final int MAX_KEEP = 20;

        public Audit {
            if (maxSize < 1024) {
                throw new IllegalArgumentException("log.audit.maxSize: must be at least 1KiB, got " + maxSize);
            }
            if (keep < 1 || keep > MAX_KEEP) {
                throw new IllegalArgumentException("log.audit.keep: must be 1 to " + MAX_KEEP + ", got " + keep);
            }
        }
    }
}
