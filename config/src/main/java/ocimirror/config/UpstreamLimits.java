package ocimirror.config;

import java.util.Locale;

/**
 * How much of an upstream the mirror may use at once: {@code maxConnections} concurrent requests
 * (further ones wait their turn) and {@code maxBandwidth} bytes per second of blob downloads,
 * all downloads together. Zero means unlimited, and is what an absent key gives; a file may not
 * write zero (or a negative number): a limit of nothing is a mistake, not a way to say none.
 *
 * @param maxConnections requests in flight to the upstream at once; 0: unlimited
 * @param maxBandwidth   bytes per second of blob bodies from the upstream; 0: unlimited
 */
public record UpstreamLimits(int maxConnections, long maxBandwidth) {

    /** What {@link #parseRate} wants, for an error message. */
    public static final String RATE_EXPECTED = "expected a rate such as 200MiB/s, 50MB/s or a number of bytes per second";

    public UpstreamLimits {
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections must be positive, got " + maxConnections);
        }
        if (maxBandwidth < 0) {
            throw new IllegalArgumentException("maxBandwidth must be positive, got " + maxBandwidth);
        }
    }

    public static UpstreamLimits none() {
        return new UpstreamLimits(0, 0);
    }

    public boolean limitsConnections() {
        return maxConnections > 0;
    }

    public boolean limitsBandwidth() {
        return maxBandwidth > 0;
    }

    /**
     * A rate as a file writes it: a size per second ({@code 200MiB/s}, {@code 1.5GB/s}) or a plain
     * number of bytes per second; the {@code /s} may be left out.
     *
     * @param value what Jackson read: an Integer, Long or String
     * @throws IllegalArgumentException with a message fit to follow the field path
     */
    public static long parseRate(Object value) {
        Object size = value;
        if (value instanceof String s) {
            String t = s.trim();
            if (t.toLowerCase(Locale.ROOT).endsWith("/s")) {
                t = t.substring(0, t.length() - 2);
            }
            if (t.indexOf('/') >= 0) {
                throw new IllegalArgumentException(RATE_EXPECTED + ", got '" + s + "'");
            }
            size = t;
        } else if (!(value instanceof Integer || value instanceof Long)) {
            throw new IllegalArgumentException(RATE_EXPECTED);
        }
        long n;
        try {
            n = Sizes.parse(size);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(value instanceof String s && e.getMessage().startsWith(Sizes.EXPECTED)
                    ? RATE_EXPECTED + ", got '" + s + "'" : e.getMessage());
        }
        if (n <= 0) {
            throw new IllegalArgumentException("must be positive, got " + value);
        }
        return n;
    }

    /** For {@code config check}: {@code maxConnections=8 maxBandwidth=200.0 MiB/s}, or empty when unlimited. */
    public String describe() {
        return (limitsConnections() ? " maxConnections=" + maxConnections : "")
                + (limitsBandwidth() ? " maxBandwidth=" + Sizes.format(maxBandwidth) + "/s" : "");
    }
}
