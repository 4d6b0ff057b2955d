package ocimirror.server.auth;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Slows down password guessing from one address: {@link #FREE_FAILURES} failures within
 * {@link #WINDOW} are free; from then on each failure blocks the address for a delay that
 * doubles, from {@link #FIRST_DELAY} up to {@link #MAX_DELAY}. An address is forgotten
 * {@link #FORGET_AFTER} after its last failure, or at its first success. At most
 * {@link #MAX_ADDRESSES} addresses are remembered, so a flood of addresses costs bounded memory.
 *
 * <p>Thread-safe; time comes from the injected clock.
 */
final class FailureThrottle {
    static final int FREE_FAILURES = 5;
    static final Duration WINDOW = Duration.ofMinutes(1);
    static final Duration FIRST_DELAY = Duration.ofSeconds(1);
    static final Duration MAX_DELAY = Duration.ofMinutes(5);
    static final Duration FORGET_AFTER = Duration.ofMinutes(15);
    static final int MAX_ADDRESSES = 100_000;

    private record State(int failures, Instant windowStart, Instant blockedUntil) {
    }

    private final Clock clock;
    private final Cache<String, State> byAddress;

    FailureThrottle(Clock clock) {
        this.clock = requireNonNull(clock, "clock");
        this.byAddress = Caffeine.newBuilder()
                .ticker(() -> nanos(clock))
                .expireAfterWrite(FORGET_AFTER)
                .maximumSize(MAX_ADDRESSES)
                .build();
    }

    /** How long {@code address} must still wait; empty when it may try now. */
    Optional<Duration> blocked(String address) {
        State s = byAddress.getIfPresent(address);
        Instant now = clock.instant();
        if (s == null || !s.blockedUntil().isAfter(now)) {
            return Optional.empty();
        }
        return Optional.of(Duration.between(now, s.blockedUntil()));
    }

    /** Records a failed attempt. */
    void failure(String address) {
        Instant now = clock.instant();
        byAddress.asMap().compute(address, (a, s) -> {
            if (s == null || s.failures() < FREE_FAILURES && Duration.between(s.windowStart(), now).compareTo(WINDOW) > 0) {
                s = new State(0, now, Instant.EPOCH);
            }
            int failures = s.failures() + 1;
            Instant blockedUntil = failures >= FREE_FAILURES ? now.plus(delay(failures)) : s.blockedUntil();
            return new State(failures, s.windowStart(), blockedUntil);
        });
    }

    /** A success forgets the address's failures. */
    void success(String address) {
        byAddress.invalidate(address);
    }

    static Duration delay(int failures) {
        int doublings = Math.min(failures - FREE_FAILURES, 20);
        Duration d = FIRST_DELAY.multipliedBy(1L << doublings);
        return d.compareTo(MAX_DELAY) > 0 ? MAX_DELAY : d;
    }

    static long nanos(Clock clock) {
        Instant i = clock.instant();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }
}
