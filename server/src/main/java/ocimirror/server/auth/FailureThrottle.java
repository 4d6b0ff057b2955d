package ocimirror.server.auth;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Slows down password guessing from one address. {@link #FREE_FAILURES} failures within
 * {@link #WINDOW} are free; each failure from the {@link #FREE_FAILURES}th on blocks the address:
 * its next attempt that needs a password check is refused, however long after the failure it
 * comes, and so is every attempt for a delay counted from that first refusal, which doubles with
 * each failure from {@link #FIRST_DELAY} (after the fifth) up to {@link #MAX_DELAY}. So after five
 * failures within a minute the sixth attempt is refused (429, {@code Retry-After: 1}), and a
 * password is checked again only once the client has waited. A refusal is not a failure: no
 * password was checked.
 *
 * <p>Why the delay starts at the refusal rather than at the failure: from the failure, a client
 * slower than the delay (a person retrying {@code docker login}, a script with a pause) never met
 * it, and the sixth wrong password was checked and answered 401 like the first five.
 *
 * <p>An address is forgotten {@link #FORGET_AFTER} after its last failure or refusal, or at its
 * first success. At most {@link #MAX_ADDRESSES} addresses are remembered, so a flood of addresses
 * costs bounded memory.
 *
 * <p>Thread-safe; time comes from the injected clock. {@link #blocked} is cheap enough for an
 * event loop (a map lookup, and a map update at the first refusal after a failure).
 */
final class FailureThrottle {
    static final int FREE_FAILURES = 5;
    static final Duration WINDOW = Duration.ofMinutes(1);
    static final Duration FIRST_DELAY = Duration.ofSeconds(1);
    static final Duration MAX_DELAY = Duration.ofMinutes(5);
    static final Duration FORGET_AFTER = Duration.ofMinutes(15);
    static final int MAX_ADDRESSES = 100_000;

    /**
     * @param owed         a failure has not yet been answered with a refusal: the next attempt is
     *                     refused and starts the delay
     * @param blockedUntil the end of the delay running, or a past instant
     */
    private record State(int failures, Instant windowStart, boolean owed, Instant blockedUntil) {
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

    /**
     * How long {@code address} must still wait; empty when it may try now. Called for an attempt
     * about to be checked: the first call after a blocking failure refuses it and starts the delay.
     */
    Optional<Duration> blocked(String address) {
        State s = byAddress.getIfPresent(address);
        if (s == null || s.failures() < FREE_FAILURES) {
            return Optional.empty();
        }
        Instant now = clock.instant();
        if (s.blockedUntil().isAfter(now)) {
            return Optional.of(Duration.between(now, s.blockedUntil()));
        }
        if (!s.owed()) {
            return Optional.empty();
        }
        Duration[] wait = new Duration[1];
        byAddress.asMap().computeIfPresent(address, (a, current) -> {
            if (current.blockedUntil().isAfter(now)) { // another attempt started the delay meanwhile
                wait[0] = Duration.between(now, current.blockedUntil());
                return current;
            }
            if (!current.owed()) {
                return current;
            }
            wait[0] = delay(current.failures());
            return new State(current.failures(), current.windowStart(), false, now.plus(wait[0]));
        });
        return Optional.ofNullable(wait[0]);
    }

    /** Records a failed attempt. */
    void failure(String address) {
        Instant now = clock.instant();
        byAddress.asMap().compute(address, (a, s) -> {
            if (s == null || s.failures() < FREE_FAILURES && Duration.between(s.windowStart(), now).compareTo(WINDOW) > 0) {
                s = new State(0, now, false, Instant.EPOCH);
            }
            int failures = s.failures() + 1;
            return new State(failures, s.windowStart(), failures >= FREE_FAILURES, s.blockedUntil());
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
