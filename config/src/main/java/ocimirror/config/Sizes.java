package ocimirror.config;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte sizes as written in a configuration file: a plain number of bytes (a YAML integer or a
 * string of digits), or a number with a unit: binary {@code KiB MiB GiB TiB} (powers of 1024),
 * decimal {@code kB KB MB GB TB} (powers of 1000), or {@code B}. Fractions are allowed with a
 * unit ({@code 1.5GiB}).
 */
public final class Sizes {

    public static final String EXPECTED = "expected a size such as 500MiB, 50GiB, 2TB or a number of bytes";

    private static final Pattern SIZE = Pattern.compile("([0-9]{1,15}(?:\\.[0-9]{1,9})?)\\s*([A-Za-z]{0,3})");

    private Sizes() {
    }

    /**
     * @param value what Jackson read: an Integer, Long or String (anything else is refused)
     * @throws IllegalArgumentException with a message fit to follow the field path
     */
    public static long parse(Object value) {
        if (value instanceof Integer || value instanceof Long) {
            long n = ((Number) value).longValue();
            if (n < 0) {
                throw new IllegalArgumentException("must not be negative, got " + n);
            }
            return n;
        }
        if (!(value instanceof String s)) {
            throw new IllegalArgumentException(EXPECTED);
        }
        Matcher m = SIZE.matcher(s.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(EXPECTED + ", got '" + s + "'");
        }
        long unit = unit(m.group(2), s);
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
        if (unit == 1 && bytes.scale() > 0 && bytes.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException("a number of bytes must be whole, got '" + s + "'");
        }
        try {
            return bytes.setScale(0, java.math.RoundingMode.DOWN).longValueExact();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("size too large: '" + s + "'");
        }
    }

    /** {@code n} in the largest binary unit that keeps it readable, e.g. {@code 50.0 GiB}. */
    public static String format(long n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int i = 0;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return i == 0 ? n + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[i]);
    }

    private static long unit(String u, String whole) {
        return switch (u) {
            case "", "B", "b" -> 1L;
            case "KiB" -> 1L << 10;
            case "MiB" -> 1L << 20;
            case "GiB" -> 1L << 30;
            case "TiB" -> 1L << 40;
            case "kB", "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "TB" -> 1_000_000_000_000L;
            default -> throw new IllegalArgumentException("unknown unit '" + u + "' in '" + whole
                    + "' (expected B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)");
        };
    }
}
