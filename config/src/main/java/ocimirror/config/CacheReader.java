package ocimirror.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the {@code cache:} and {@code gc:} sections of a configuration file into
 * {@link CacheConfig} and {@link GcConfig}, every error naming the file and the field
 * ({@code cache.maxSize: ...}, {@code cache.pins[2]: ...}). A missing section takes the default:
 * an unbounded cache, garbage collection hourly with a one-hour grace period.
 *
 * <pre>
 * cache:
 *   maxSize: 50GiB              # 500MiB, 2TB, or bytes; absent: unbounded
 *   highWatermark: 0.90         # or "90%"
 *   lowWatermark: 0.80
 *   pins: [docker.io/library/alpine:3.20]
 * gc:
 *   gracePeriod: 1h
 *   interval: 1h                # 0: only by `ocimirror gc`
 * </pre>
 */
final class CacheReader {

    private final String source;

    CacheReader(String source) {
        this.source = source;
    }

    CacheConfig cache(CacheSection s) throws ConfigException {
        if (s == null) {
            return CacheConfig.defaults();
        }
        long maxSize = CacheConfig.UNBOUNDED;
        if (s.maxSize() != null) {
            try {
                maxSize = Sizes.parse(s.maxSize());
            } catch (IllegalArgumentException e) {
                throw error("cache.maxSize", e.getMessage());
            }
            if (maxSize == 0) {
                throw error("cache.maxSize", "must be positive (leave it out for an unbounded cache)");
            }
        }
        double high = s.highWatermark() == null ? CacheConfig.DEFAULT_HIGH
                : fraction("cache.highWatermark", s.highWatermark());
        double low = s.lowWatermark() == null ? Math.min(CacheConfig.DEFAULT_LOW, high * 0.9)
                : fraction("cache.lowWatermark", s.lowWatermark());
        List<String> pins = new ArrayList<>();
        if (s.pins() != null) {
            for (int i = 0; i < s.pins().size(); i++) {
                String p = s.pins().get(i);
                if (p == null || p.isBlank()) {
                    throw error("cache.pins[" + i + "]", "expected an image reference such as"
                            + " docker.io/library/alpine:3.20");
                }
                pins.add(p.trim());
            }
        }
        try {
            return new CacheConfig(maxSize, high, low, pins);
        } catch (IllegalArgumentException e) {
            // CacheConfig words its messages with the field path already.
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    GcConfig gc(GcSection s) throws ConfigException {
        if (s == null) {
            return GcConfig.defaults();
        }
        Duration grace = s.gracePeriod() == null ? GcConfig.DEFAULT_GRACE : duration("gc.gracePeriod", s.gracePeriod());
        Duration interval = s.interval() == null ? GcConfig.DEFAULT_INTERVAL : duration("gc.interval", s.interval());
        return new GcConfig(grace, interval);
    }

    /** A number in (0, 1], or a percentage string such as {@code "90%"}. */
    private double fraction(String at, Object value) throws ConfigException {
        double v;
        if (value instanceof Number n) {
            v = n.doubleValue();
        } else if (value instanceof String str && str.trim().endsWith("%")) {
            try {
                v = Double.parseDouble(str.trim().substring(0, str.trim().length() - 1).trim()) / 100;
            } catch (NumberFormatException e) {
                throw error(at, "expected a fraction such as 0.9 or a percentage such as 90%, got '" + str + "'");
            }
        } else {
            throw error(at, "expected a fraction such as 0.9 or a percentage such as 90%");
        }
        if (!(v > 0 && v <= 1)) {
            throw error(at, "must be above 0 and at most 1 (100%), got " + value);
        }
        return v;
    }

    private Duration duration(String at, Object value) throws ConfigException {
        try {
            return Durations.parse(value);
        } catch (IllegalArgumentException e) {
            throw error(at, e.getMessage());
        }
    }

    private ConfigException error(String field, String message) {
        return new ConfigException(source + ": " + field + ": " + message);
    }

    // The file's shape: sizes, fractions and durations as read, converted above so errors name the field.
    record CacheSection(Object maxSize, Object highWatermark, Object lowWatermark, List<String> pins) {
    }

    record GcSection(Object gracePeriod, Object interval) {
    }
}
