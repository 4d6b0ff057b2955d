package ocimirror.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Garbage collection of hosted namespaces: blobs no manifest of their repository references any
 * more are unlinked, and deleted once nothing links them.
 *
 * @param gracePeriod a blob uploaded (or checked by a client) less than this long ago is kept even
 *                    if no manifest references it yet: a push uploads its blobs before its manifest
 * @param interval    how often the collection runs in the server; {@link Duration#ZERO}: only by
 *                    {@code ocimirror gc}
 */
public record GcConfig(Duration gracePeriod, Duration interval) {
    public static final Duration DEFAULT_GRACE = Duration.ofHours(1);
    public static final Duration DEFAULT_INTERVAL = Duration.ofHours(1);

    public GcConfig {
        Objects.requireNonNull(gracePeriod, "gracePeriod");
        Objects.requireNonNull(interval, "interval");
        if (gracePeriod.isNegative()) {
            throw new IllegalArgumentException("gc.gracePeriod: must not be negative");
        }
        if (interval.isNegative()) {
            throw new IllegalArgumentException("gc.interval: must not be negative");
        }
    }

    public static GcConfig defaults() {
        return new GcConfig(DEFAULT_GRACE, DEFAULT_INTERVAL);
    }

    public boolean periodic() {
        return !interval.isZero();
    }
}
