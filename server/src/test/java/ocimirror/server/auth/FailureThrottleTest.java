package ocimirror.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.Test;

class FailureThrottleTest {
    static final String ADDRESS = "203.0.113.7";
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    final FailureThrottle throttle = new FailureThrottle(clock);

    private void fail(int times) {
        for (int i = 0; i < times; i++) {
            throttle.failure(ADDRESS);
        }
    }

    @Test
    void fourFailuresAreFreeTheFifthBlocksTheNextAttempt() {
        for (int i = 1; i < FailureThrottle.FREE_FAILURES; i++) {
            throttle.failure(ADDRESS);
            assertEquals(Optional.empty(), throttle.blocked(ADDRESS), "after failure " + i);
        }
        throttle.failure(ADDRESS);
        assertEquals(Optional.of(Duration.ofSeconds(1)), throttle.blocked(ADDRESS), "the sixth attempt");
        assertEquals(Optional.empty(), throttle.blocked("203.0.113.8"), "another address");
    }

    @Test
    void theSixthAttemptIsRefusedHoweverLateItComesWithinTheForgetTime() {
        fail(FailureThrottle.FREE_FAILURES);
        clock.advance(Duration.ofSeconds(30)); // far beyond the first delay: it starts at the refusal
        assertEquals(Optional.of(Duration.ofSeconds(1)), throttle.blocked(ADDRESS));
        clock.advance(Duration.ofMillis(400));
        assertEquals(Optional.of(Duration.ofMillis(600)), throttle.blocked(ADDRESS), "the same delay, running");
        clock.advance(Duration.ofMillis(600));
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS), "waited: the password is checked");
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS), "and stays checked until the next failure");
    }

    @Test
    void eachFurtherFailureDoublesTheDelayUpToTheMaximum() {
        fail(FailureThrottle.FREE_FAILURES);
        long[] expected = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
        for (long seconds : expected) {
            clock.advance(Duration.ofMinutes(10)); // however late: the delay starts at the refusal
            assertEquals(Optional.of(Duration.ofSeconds(seconds)), throttle.blocked(ADDRESS));
            clock.advance(Duration.ofSeconds(seconds));
            assertEquals(Optional.empty(), throttle.blocked(ADDRESS));
            throttle.failure(ADDRESS);
        }
    }

    @Test
    void failuresSpreadOverMoreThanTheWindowAreFree() {
        fail(FailureThrottle.FREE_FAILURES - 1);
        clock.advance(FailureThrottle.WINDOW.plusSeconds(1));
        fail(FailureThrottle.FREE_FAILURES - 1);
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS));
        throttle.failure(ADDRESS);
        assertEquals(Optional.of(Duration.ofSeconds(1)), throttle.blocked(ADDRESS), "five within the new window");
    }

    @Test
    void aSuccessOrTheForgetTimeForgetsTheAddress() {
        fail(FailureThrottle.FREE_FAILURES);
        throttle.success(ADDRESS);
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS));
        fail(FailureThrottle.FREE_FAILURES - 1);
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS), "counting starts again");

        fail(1);
        clock.advance(FailureThrottle.FORGET_AFTER.plusSeconds(1));
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS));
        fail(1);
        assertEquals(Optional.empty(), throttle.blocked(ADDRESS), "forgotten: the count is 1");
    }
}
