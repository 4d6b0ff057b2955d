package ocimirror.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import ocimirror.config.AuthConfig;
import ocimirror.config.AuthConfig.Access;
import ocimirror.server.auth.HtpasswdAuthenticator.Decision;
import ocimirror.server.auth.HtpasswdAuthenticator.Decision.Outcome;
import ocimirror.testing.Commands;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against files written by the real {@code htpasswd} of apache2-utils. */
class HtpasswdAuthenticatorTest {
    @TempDir
    Path dir;
    Path file;
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));

    @BeforeEach
    void users() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        file = dir.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", file.toString(), "alice", "s3cret");
        Commands.check("htpasswd", "-B", "-b", file.toString(), "bob", "hunter2");
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private HtpasswdAuthenticator authenticator(Clock c) throws IOException {
        return new HtpasswdAuthenticator(new AuthConfig(file, "mirror", Map.of("alice", Access.PUSH), null), c);
    }

    @Test
    void rightPasswordsPassAndRightsFollowTheConfiguration() throws Exception {
        HtpasswdAuthenticator a = authenticator(clock);
        assertEquals(2, a.userCount());
        assertEquals(new Decision(Outcome.ALLOW, "alice", null), a.authorize(basic("alice", "s3cret"), "10.0.0.1", true));
        assertEquals(new Decision(Outcome.ALLOW, "bob", null), a.authorize(basic("bob", "hunter2"), "10.0.0.1", false));
        assertEquals(new Decision(Outcome.DENIED, "bob", null), a.authorize(basic("bob", "hunter2"), "10.0.0.1", true),
                "bob is not listed: pull only");
        assertEquals("Basic realm=\"mirror\"", a.challenge());
    }

    @Test
    void wrongUnknownMissingOrMalformedCredentialsAreChallenged() throws Exception {
        HtpasswdAuthenticator a = authenticator(clock);
        assertEquals(Outcome.CHALLENGE, a.authorize(basic("alice", "S3cret"), "10.0.0.2", false).outcome());
        assertEquals(Outcome.CHALLENGE, a.authorize(basic("mallory", "s3cret"), "10.0.0.3", false).outcome());
        assertEquals(Outcome.CHALLENGE, a.authorize(null, "10.0.0.4", false).outcome());
        assertEquals(Outcome.CHALLENGE, a.authorize("Basic !!!not-base64", "10.0.0.5", false).outcome());
        assertEquals(Outcome.CHALLENGE, a.authorize(basic("alice", "s3cret").substring(0, 10), "10.0.0.6", false).outcome());
        assertNull(a.authorize(basic("mallory", "x"), "10.0.0.7", false).user(), "no name leaks back");
    }

    @Test
    void anUnknownUserCostsABcryptCheckLikeAWrongPassword() throws Exception {
        // Cost 8 (about 15 ms): slow enough to tell a bcrypt check from none, quick enough for a test.
        Commands.check("htpasswd", "-B", "-C", "8", "-b", "-c", file.toString(), "alice", "s3cret");
        HtpasswdAuthenticator a = authenticator(clock);
        a.authorize(basic("alice", "warm-up"), "192.0.2.0", false);
        long[] wrong = new long[7];
        long[] unknown = new long[7];
        for (int i = 0; i < wrong.length; i++) {
            long t0 = System.nanoTime();
            assertEquals(Outcome.CHALLENGE, a.authorize(basic("alice", "wrong" + i), "192.0.2." + (2 * i + 1), false).outcome());
            long t1 = System.nanoTime();
            assertEquals(Outcome.CHALLENGE, a.authorize(basic("nobody" + i, "wrong"), "192.0.2." + (2 * i + 2), false).outcome());
            long t2 = System.nanoTime();
            wrong[i] = t1 - t0;
            unknown[i] = t2 - t1;
        }
        long medianWrong = median(wrong);
        long medianUnknown = median(unknown);
        assertTrue(medianWrong > Duration.ofMillis(2).toNanos(), "bcrypt ran: " + medianWrong);
        assertTrue(medianUnknown > medianWrong / 3, "unknown " + medianUnknown + " ns vs wrong " + medianWrong + " ns");
    }

    @Test
    void failuresFromOneAddressAreThrottledWithGrowingDelays() throws Exception {
        HtpasswdAuthenticator a = authenticator(clock);
        String guesser = "203.0.113.9";
        for (int i = 0; i < FailureThrottle.FREE_FAILURES; i++) {
            assertEquals(Outcome.CHALLENGE, a.authorize(basic("alice", "guess" + i), guesser, false).outcome());
        }
        Decision throttled = a.authorize(basic("alice", "s3cret"), guesser, false);
        assertEquals(Outcome.THROTTLED, throttled.outcome(), "even the right password waits: nothing is learnt");
        assertEquals(Duration.ofSeconds(1), throttled.retryAfter());
        assertEquals(Outcome.ALLOW, a.authorize(basic("bob", "hunter2"), "203.0.113.10", false).outcome(),
                "other addresses are not slowed");

        clock.advance(Duration.ofSeconds(1));
        assertEquals(Outcome.CHALLENGE, a.authorize(basic("alice", "guess-again"), guesser, false).outcome());
        assertEquals(Duration.ofSeconds(2), a.authorize(basic("alice", "s3cret"), guesser, false).retryAfter(), "doubled");
        clock.advance(Duration.ofSeconds(2));
        assertEquals(Outcome.ALLOW, a.authorize(basic("alice", "s3cret"), guesser, false).outcome());
        assertEquals(Outcome.CHALLENGE, a.authorize(basic("alice", "typo"), guesser, false).outcome(),
                "a success forgets the failures: the next one is free again");
    }

    @Test
    void verifiedCredentialsPassWhileTheAddressIsThrottled() throws Exception {
        HtpasswdAuthenticator a = authenticator(clock);
        String nat = "198.51.100.1";
        String good = basic("bob", "hunter2");
        assertEquals(Outcome.ALLOW, a.authorize(good, nat, false).outcome());
        for (int i = 0; i < FailureThrottle.FREE_FAILURES; i++) {
            a.authorize(basic("alice", "guess" + i), nat, false);
        }
        assertEquals(Outcome.THROTTLED, a.authorize(basic("alice", "s3cret"), nat, false).outcome());
        assertEquals(Outcome.ALLOW, a.authorizeWithoutHashing(good, nat, false).orElseThrow().outcome(),
                "a node behind the same NAT keeps pulling");

        clock.advance(HtpasswdAuthenticator.VERIFIED_TTL.plusSeconds(1));
        assertTrue(a.authorizeWithoutHashing(good, "198.51.100.2", false).isEmpty(), "expired: checked again");
    }

    @Test
    void otherSchemesAreChallengedWithoutCountingAsGuesses() throws Exception {
        HtpasswdAuthenticator a = authenticator(clock);
        for (int i = 0; i < 2 * FailureThrottle.FREE_FAILURES; i++) {
            assertEquals(Outcome.CHALLENGE, a.authorize("Bearer abc.def.ghi", "10.1.1.1", false).outcome());
        }
        assertEquals(Outcome.ALLOW, a.authorize(basic("alice", "s3cret"), "10.1.1.1", false).outcome());
    }

    @Test
    void nonBcryptEntriesAreRefusedWithTheirLine() throws Exception {
        Commands.check("htpasswd", "-m", "-b", file.toString(), "carol", "pw");
        IOException md5 = assertThrows(IOException.class, () -> authenticator(clock));
        assertTrue(md5.getMessage().contains(file + ":3: user 'carol' has an MD5 (apr1) hash"), md5.getMessage());
        assertTrue(md5.getMessage().contains("htpasswd -B"), md5.getMessage());

        Commands.check("htpasswd", "-s", "-b", file.toString(), "carol", "pw");
        IOException sha = assertThrows(IOException.class, () -> authenticator(clock));
        assertTrue(sha.getMessage().contains(":3: user 'carol' has a SHA-1 hash"), sha.getMessage());

        Files.writeString(file, "# comment\n\ndave:plain\n");
        IOException plain = assertThrows(IOException.class, () -> authenticator(clock));
        assertTrue(plain.getMessage().contains(":3: user 'dave' has a crypt or plain-text password"), plain.getMessage());
    }

    @Test
    void aChangedFileIsReloadedAndABrokenOneKeepsTheOldUsers() throws Exception {
        HtpasswdAuthenticator a = authenticator(clock);
        String old = basic("alice", "s3cret");
        assertEquals(Outcome.ALLOW, a.authorize(old, "10.2.0.1", false).outcome());
        assertFalse(a.reload(), "unchanged");

        Commands.check("htpasswd", "-B", "-b", file.toString(), "alice", "n3w");
        assertTrue(a.reload());
        assertEquals(Outcome.CHALLENGE, a.authorize(old, "10.2.0.2", false).outcome(), "the old password no longer works");
        assertEquals(Outcome.ALLOW, a.authorize(basic("alice", "n3w"), "10.2.0.3", false).outcome());

        Files.writeString(file, Files.readString(file) + "eve:$apr1$x$y\n");
        assertFalse(a.reload());
        assertEquals(Outcome.ALLOW, a.authorize(basic("bob", "hunter2"), "10.2.0.4", false).outcome(), "kept the old users");
        assertEquals(2, a.userCount());
    }

    @Test
    void duplicateUsersAreRefused() throws Exception {
        String line = Files.readString(file).lines().findFirst().orElseThrow();
        Files.writeString(file, Files.readString(file) + line + "\n");
        IOException e = assertThrows(IOException.class, () -> authenticator(clock));
        assertTrue(e.getMessage().contains(":3: user 'alice' again (first on line 1)"), e.getMessage());
    }

    @Test
    void throttleDelaysDoubleUpToTheMaximum() {
        assertEquals(Duration.ofSeconds(1), FailureThrottle.delay(5));
        assertEquals(Duration.ofSeconds(8), FailureThrottle.delay(8));
        assertEquals(FailureThrottle.MAX_DELAY, FailureThrottle.delay(40));
    }

    private static long median(long[] v) {
        long[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
