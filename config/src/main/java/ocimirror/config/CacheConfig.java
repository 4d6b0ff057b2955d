package ocimirror.config;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The bounded cache: when the committed blobs pass {@code highWatermark * maxSize}, the least
 * recently used proxied blobs are deleted until they are under {@code lowWatermark * maxSize}.
 * Hosted (pushed) content and whatever a pinned image needs are never evicted.
 *
 * @param maxSize       the store's size in bytes; {@link #UNBOUNDED} (0) for no bound (no eviction)
 * @param highWatermark fraction of {@code maxSize} that starts an eviction, in (0, 1]
 * @param lowWatermark  fraction of {@code maxSize} an eviction stops at, in (0, highWatermark)
 * @param pins          images kept cached and refreshed on their tag TTL, as clients name them
 *                      ({@code docker.io/library/alpine:3.20}, {@code gcr.io/distroless/static@sha256:...};
 *                      no tag means {@code latest})
 */
public record CacheConfig(long maxSize, double highWatermark, double lowWatermark, List<String> pins) {
    public static final long UNBOUNDED = 0;
    public static final double DEFAULT_HIGH = 0.90;
    public static final double DEFAULT_LOW = 0.80;

    // [host[:port]/]path[:tag|@algo:hex]: the host part may carry a port (an upstream alias).
    private static final String COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
    private static final Pattern IMAGE = Pattern.compile(
            "(?:[a-zA-Z0-9.-]+:[0-9]{1,5}/)?" + COMPONENT + "(?:/" + COMPONENT + ")*"
                    + "(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha(?:256:[a-f0-9]{64}|512:[a-f0-9]{128}))?");

    public CacheConfig {
        pins = pins == null ? List.of() : List.copyOf(pins);
        if (maxSize < 0) {
            throw new IllegalArgumentException("cache.maxSize: must not be negative, got " + maxSize);
        }
        if (!(highWatermark > 0 && highWatermark <= 1)) {
            throw new IllegalArgumentException("cache.highWatermark: must be in (0, 1], got " + highWatermark);
        }
        if (!(lowWatermark > 0 && lowWatermark < highWatermark)) {
            throw new IllegalArgumentException("cache.lowWatermark: must be above 0 and below the high watermark ("
                    + highWatermark + "), got " + lowWatermark);
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < pins.size(); i++) {
            String p = Objects.requireNonNull(pins.get(i), "cache.pins[" + i + "]");
            if (!isImageReference(p)) {
                throw new IllegalArgumentException("cache.pins[" + i + "]: '" + p + "' is not an image reference"
                        + " such as docker.io/library/alpine:3.20 or gcr.io/distroless/static@sha256:...");
            }
            if (!seen.add(p)) {
                throw new IllegalArgumentException("cache.pins[" + i + "]: '" + p + "' is listed twice");
            }
        }
    }

    /** No bound, no pins. */
    public static CacheConfig defaults() {
        return new CacheConfig(UNBOUNDED, DEFAULT_HIGH, DEFAULT_LOW, List.of());
    }

    /** A bounded cache with the default watermarks. */
    public static CacheConfig bounded(long maxSize) {
        return new CacheConfig(maxSize, DEFAULT_HIGH, DEFAULT_LOW, List.of());
    }

    public CacheConfig withPins(List<String> p) {
        return new CacheConfig(maxSize, highWatermark, lowWatermark, p);
    }

    public boolean isBounded() {
        return maxSize > 0;
    }

    /** Bytes above which an eviction starts; {@link Long#MAX_VALUE} when unbounded. */
    public long highBytes() {
        return isBounded() ? (long) (maxSize * highWatermark) : Long.MAX_VALUE;
    }

    /** Bytes an eviction stops under; {@link Long#MAX_VALUE} when unbounded. */
    public long lowBytes() {
        return isBounded() ? (long) (maxSize * lowWatermark) : Long.MAX_VALUE;
    }

    /** Whether {@code s} is an image reference a pin may name (syntax only; routing is checked by the server). */
    public static boolean isImageReference(String s) {
        return s != null && s.length() <= 512 && IMAGE.matcher(s).matches();
    }
}
