package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.CredentialSource;
import ocimirror.config.RegistryCredentials;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@link HelperCredentials} with real helper scripts: cached for the lifetime, run again once
 * per refusal whatever the number of refused requests, the old answer kept when a run at the
 * end of the lifetime fails, and nothing the helper prints in the log.
 */
class HelperCredentialsTest {
    private static final String SECRET = "pw-TOP-SECRET";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-12-08T00:00:00Z"));
    final AtomicInteger submitted = new AtomicInteger();
    ExecutorService pool;
    ListAppender<ILoggingEvent> log;
    Logger root;
    Level rootLevel;

    @BeforeEach
    void setUp() {
        pool = Executors.newFixedThreadPool(2);
        root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        rootLevel = root.getLevel();
        root.setLevel(Level.DEBUG);
        log = new ListAppender<>();
        log.setContext(root.getLoggerContext());
        log.start();
        root.addAppender(log);
    }

    @AfterEach
    void tearDown() {
        root.detachAppender(log);
        root.setLevel(rootLevel);
        pool.shutdownNow();
    }

    /**
     * A helper answering {@code SECRET<v>}, v the content of the file {@code version} (what a
     * rotation at the source changes; 1 at first), after running {@code before} (shell); from run
     * {@code failFrom} on (runs are counted in a file) it fails with status 4 after printing the
     * secret to both its outputs.
     */
    private HelperCredentials helper(String before, int failFrom) throws Exception {
        Path p = dir.resolve("docker-credential-t");
        Path count = dir.resolve("count");
        Files.writeString(p, "#!/bin/sh\n"
                + "n=$(( $(cat " + count + " 2>/dev/null || echo 0) + 1 )); echo $n > " + count + "\n"
                + before + "\n"
                + "if [ $n -ge " + failFrom + " ]; then echo '" + SECRET + "'; echo '" + SECRET + "' >&2; exit 4; fi\n"
                + "echo \"{\\\"ServerURL\\\":\\\"r.test\\\",\\\"Username\\\":\\\"u\\\",\\\"Secret\\\":\\\"" + SECRET
                + "$(cat " + dir.resolve("version") + ")\\\"}\"; echo '" + SECRET + "' >&2\n");
        rotate(1);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        return new HelperCredentials("up", new CredentialSource.Helper("t", p, Duration.ofMinutes(10)), "r.test",
                r -> {
                    submitted.incrementAndGet();
                    pool.execute(r);
                }, clock, Duration.ofSeconds(10));
    }

    private void rotate(int version) throws Exception {
        Files.writeString(dir.resolve("version"), Integer.toString(version));
    }

    private int runs() throws Exception {
        Path count = dir.resolve("count");
        return Files.exists(count) ? Integer.parseInt(Files.readString(count).trim()) : 0;
    }

    private static RegistryCredentials creds(int n) {
        return new RegistryCredentials("u", SECRET + n);
    }

    private static RegistryCredentials get(CompletableFuture<Optional<RegistryCredentials>> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS).orElseThrow();
    }

    @Test
    void theAnswerIsCachedForItsLifetimeAndTheRunIsOffTheCallersThread() throws Exception {
        HelperCredentials h = helper("sleep 0.3", 99);
        long start = System.nanoTime();
        CompletableFuture<Optional<RegistryCredentials>> first = h.current();
        CompletableFuture<Optional<RegistryCredentials>> second = h.current();
        assertTrue(System.nanoTime() - start < Duration.ofMillis(250).toNanos(), "the caller does not wait");
        assertFalse(first.isDone());
        assertEquals(creds(1), get(first));
        assertEquals(creds(1), get(second), "one run for both");
        clock.advance(Duration.ofMinutes(9));
        assertEquals(creds(1), get(h.current()));
        assertEquals(1, runs());
        clock.advance(Duration.ofMinutes(1));
        rotate(2);
        assertEquals(creds(2), get(h.current()), "the lifetime is over");
        assertEquals(2, runs());
        assertEquals(2, submitted.get(), "every run went to the executor");
    }

    @Test
    void aRefusalRunsTheHelperOnceForAllRefusedRequestsAndNeverInALoop() throws Exception {
        HelperCredentials h = helper("sleep 0.3", 99);
        assertEquals(creds(1), get(h.current()));
        rotate(2);
        List<CompletableFuture<Optional<RegistryCredentials>>> refused = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            refused.add(h.refused(creds(1)));
        }
        for (CompletableFuture<Optional<RegistryCredentials>> f : refused) {
            assertEquals(creds(2), get(f));
        }
        assertEquals(2, runs(), "one run for eight refusals");
        assertEquals(creds(2), get(h.refused(creds(1))), "a late refusal of the old answer gets the new one");
        assertEquals(2, runs());
        rotate(3);
        assertEquals(creds(3), get(h.refused(creds(2))), "rotated again at once: followed at once");
        assertEquals(3, runs());
        assertEquals(creds(3), get(h.refused(creds(3))), "refused, but the helper has nothing new");
        assertEquals(4, runs());
        for (int i = 0; i < 5; i++) {
            assertEquals(creds(3), get(h.refused(creds(3))), "a storm of refusals");
        }
        assertEquals(4, runs(), "after a run that brought nothing new, refusals wait a second");
        clock.advance(HelperCredentials.HOLD_OFF);
        rotate(4);
        assertEquals(creds(4), get(h.refused(creds(3))));
        assertEquals(5, runs());
    }

    @Test
    void aFailedRunAtTheEndOfTheLifetimeKeepsTheOldAnswerAFailedRunAfterARefusalFails() throws Exception {
        HelperCredentials h = helper("", 2);
        assertEquals(creds(1), get(h.current()));
        clock.advance(Duration.ofMinutes(11));
        assertEquals(creds(1), get(h.current()), "the run failed: the old answer is still used");
        assertEquals(creds(1), get(h.current()), "and the helper is not run again at once");
        assertEquals(2, runs());
        clock.advance(HelperCredentials.RETRY_AFTER_FAILURE);
        assertEquals(creds(1), get(h.current()));
        assertEquals(3, runs(), "asked again after a while");
        assertEquals(creds(1), get(h.refused(creds(1))), "refused within a second of a failed run: not run again");
        assertEquals(3, runs());
        clock.advance(HelperCredentials.HOLD_OFF);

        ExecutionException e = assertThrows(ExecutionException.class, () -> get(h.refused(creds(1))));
        UpstreamException ue = assertInstanceOf(UpstreamException.class, e.getCause());
        assertEquals(UpstreamException.Kind.UNAUTHORIZED, ue.kind());
        assertTrue(ue.getMessage().contains("credential helper 't'") && ue.getMessage().contains("exited with status 4"),
                ue.getMessage());
        assertEquals(4, runs());
        assertTrue(log.list.stream().anyMatch(l -> l.getLevel() == Level.WARN
                && l.getFormattedMessage().contains("exited with status 4")), "failures are logged");
        assertNothingLoggedHolds(SECRET);
    }

    @Test
    void aHelperThatNeverSucceedsFailsTheRequestWithItsName() throws Exception {
        HelperCredentials h = helper("", 1);
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(h.current()));
        assertTrue(e.getCause().getMessage().contains("upstream 'up': credential helper 't'"), e.getCause().getMessage());
        assertFalse(e.getCause().getMessage().contains(SECRET));
        assertNothingLoggedHolds(SECRET);
    }

    private void assertNothingLoggedHolds(String secret) {
        assertFalse(log.list.isEmpty(), "the log was captured");
        for (ILoggingEvent l : log.list) {
            assertFalse(l.getFormattedMessage().contains(secret), l.getFormattedMessage());
            for (IThrowableProxy t = l.getThrowableProxy(); t != null; t = t.getCause()) {
                assertFalse(String.valueOf(t.getMessage()).contains(secret), t.getMessage());
            }
        }
    }
}
