package ocimirror.config;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as written in a configuration file: {@code 30s}, {@code 10m}, {@code 1h30m},
 * {@code 500ms}, {@code 2d}, ISO-8601 ({@code PT10M}), or a plain number of seconds (a YAML
 * integer or a string of digits).
 */
public final class Durations {

    public static final String EXPECTED = "expected a duration such as 30s, 10m, 1h, PT10M or a number of seconds";

    private static final Pattern UNITS = Pattern.compile("(?:[0-9]+(?:ms|s|m|h|d))+");
    private static final Pattern PART = Pattern.compile("([0-9]+)(ms|s|m|h|d)");

    private Durations() {
    }

    /**
     * @param value what Jackson read: an Integer, Long or String (anything else is refused)
     * @throws IllegalArgumentException with a message fit to follow the field path
     */
    public static Duration parse(Object value) {
        Duration d;
        try {
            if (value instanceof Integer || value instanceof Long) {
                d = Duration.ofSeconds(((Number) value).longValue());
            } else if (value instanceof String s) {
                d = parse(s.trim());
            } else {
                throw new IllegalArgumentException(EXPECTED);
            }
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("duration too large");
        }
        if (d.isNegative()) {
            throw new IllegalArgumentException("must not be negative, got " + value);
        }
        return d;
    }

    private static Duration parse(String s) {
        if (!s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9') && s.length() <= 12) {
            return Duration.ofSeconds(Long.parseLong(s));
        }
        if (s.length() <= 40 && UNITS.matcher(s).matches()) {
            Duration d = Duration.ZERO;
            Matcher m = PART.matcher(s);
            while (m.find()) {
                if (m.group(1).length() > 12) {
                    throw new IllegalArgumentException("duration too large: '" + s + "'");
                }
                long n = Long.parseLong(m.group(1));
                d = d.plus(switch (m.group(2)) {
                    case "ms" -> Duration.ofMillis(n);
                    case "s" -> Duration.ofSeconds(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                });
            }
            return d;
        }
        if (s.toUpperCase(Locale.ROOT).startsWith("P") || s.startsWith("-P")) {
            try {
                return Duration.parse(s);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException(EXPECTED + ", got '" + s + "'");
            }
        }
        throw new IllegalArgumentException(EXPECTED + ", got '" + s + "'");
    }
}
