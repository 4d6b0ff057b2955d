package ocimirror.server.upstream;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Which URLs of an upstream are backed off after a failure, and so the order to try them in:
 * the URLs that are not, in configured order (the first healthy URL is always preferred: "local
 * first"), then those that are, soonest retry first, as a last resort. A URL's back-off doubles
 * with each failure in a row, from {@code initial} up to {@code max}, and ends with its first
 * success; failures reported while it is already backed off (requests that were in flight when
 * it failed) do not lengthen it. Time comes from the clock. Thread-safe.
 */
final class UrlBackoff {

    static final Duration INITIAL = Duration.ofSeconds(10);
    static final Duration MAX = Duration.ofMinutes(5);

    private final Clock clock;
    private final Duration initial;
    private final Duration max;
    private final int[] failures;
    private final Instant[] until;

    UrlBackoff(int urls, Clock clock, Duration initial, Duration max) {
        if (urls < 1 || initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("need urls >= 1 and 0 < initial <= max");
        }
        this.clock = Objects.requireNonNull(clock, "clock");
        this.initial = initial;
        this.max = max;
        this.failures = new int[urls];
        this.until = new Instant[urls];
    }

    /** The indexes of every URL, in the order to try them now. */
    synchronized List<Integer> order() {
        Instant now = clock.instant();
        List<Integer> healthy = new ArrayList<>();
        List<Integer> backedOff = new ArrayList<>();
        for (int i = 0; i < until.length; i++) {
            (isBackedOff(i, now) ? backedOff : healthy).add(i);
        }
        backedOff.sort(Comparator.comparing((Integer i) -> until[i]).thenComparing(i -> i));
        healthy.addAll(backedOff);
        return healthy;
    }

    /**
     * URL {@code i} failed (connect error, timeout, 5xx, 429).
     *
     * @return the back-off it starts now, or null if the URL was already backed off
     */
    synchronized Duration failed(int i) {
        Instant now = clock.instant();
        if (isBackedOff(i, now)) {
            return null;
        }
        failures[i] = Math.min(failures[i] + 1, 30);
        Duration d = initial.multipliedBy(1L << Math.min(failures[i] - 1, 20));
        d = d.compareTo(max) > 0 ? max : d;
        until[i] = now.plus(d);
        return d;
    }

    /** URL {@code i} answered (a 404 or 401 is an answer too): its back-off ends. */
    synchronized void succeeded(int i) {
        failures[i] = 0;
        until[i] = null;
    }

    synchronized boolean backedOff(int i) {
        return isBackedOff(i, clock.instant());
    }

    private boolean isBackedOff(int i, Instant now) {
        return until[i] != null && now.isBefore(until[i]);
    }
}
