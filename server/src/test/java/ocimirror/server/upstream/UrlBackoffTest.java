package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.Test;

/** The order URLs are tried in, and their back-off, on a clock the test advances. */
class UrlBackoffTest {
    final MutableClock clock = new MutableClock(Instant.parse("2026-12-08T00:00:00Z"));
    final UrlBackoff backoff = new UrlBackoff(3, clock, Duration.ofSeconds(10), Duration.ofSeconds(60));

    @Test
    void healthyUrlsInConfiguredOrderThenBackedOffOnesSoonestFirst() {
        assertEquals(List.of(0, 1, 2), backoff.order());
        assertEquals(Duration.ofSeconds(10), backoff.failed(1));
        clock.advance(Duration.ofSeconds(1));
        assertEquals(Duration.ofSeconds(10), backoff.failed(0));
        assertEquals(List.of(2, 1, 0), backoff.order(), "1 is retried before 0: its back-off ends first");
        assertTrue(backoff.backedOff(0));
        assertFalse(backoff.backedOff(2));
    }

    @Test
    void theFirstUrlIsPreferredAgainOnceItsBackOffHasPassed() {
        backoff.failed(0);
        assertEquals(List.of(1, 2, 0), backoff.order());
        clock.advance(Duration.ofSeconds(9));
        assertEquals(List.of(1, 2, 0), backoff.order());
        clock.advance(Duration.ofSeconds(1));
        assertEquals(List.of(0, 1, 2), backoff.order(), "local first, without anything succeeding meanwhile");
        assertFalse(backoff.backedOff(0));
    }

    @Test
    void failuresInARowDoubleTheBackOffUpToTheCapAndASuccessEndsIt() {
        assertEquals(Duration.ofSeconds(10), backoff.failed(0));
        clock.advance(Duration.ofSeconds(10));
        assertEquals(Duration.ofSeconds(20), backoff.failed(0));
        clock.advance(Duration.ofSeconds(20));
        assertEquals(Duration.ofSeconds(40), backoff.failed(0));
        clock.advance(Duration.ofSeconds(40));
        assertEquals(Duration.ofSeconds(60), backoff.failed(0), "bounded");
        clock.advance(Duration.ofSeconds(60));
        assertEquals(Duration.ofSeconds(60), backoff.failed(0));
        backoff.succeeded(0);
        assertFalse(backoff.backedOff(0));
        assertEquals(Duration.ofSeconds(10), backoff.failed(0), "a success starts the doubling over");
    }

    @Test
    void failuresOfRequestsAlreadyInFlightDoNotLengthenTheBackOff() {
        backoff.failed(0);
        clock.advance(Duration.ofSeconds(5));
        assertNull(backoff.failed(0));
        assertNull(backoff.failed(0));
        clock.advance(Duration.ofSeconds(5));
        assertFalse(backoff.backedOff(0), "still the first 10 s");
    }
}
