package ocimirror.server.upstream;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.config.CredentialHelper;
import ocimirror.config.CredentialSource;
import ocimirror.config.CredentialsException;
import ocimirror.config.RegistryCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A credential helper's answer for one upstream, cached for the configured lifetime.
 *
 * <ul>
 *   <li>The helper runs on the {@code blocking} executor (starting a process and waiting for it
 *       must not happen on an event loop), bounded by a timeout, and one run at a time: every
 *       request that needs an answer while it runs waits for that run.</li>
 *   <li>When the upstream refuses the current answer, the helper runs again at once, once for
 *       all the requests refused with that answer; a request refused again fails (no loop). When
 *       a run brought nothing new (the same answer, or a failure), no refusal starts another
 *       within {@link #HOLD_OFF}: a storm of refusals (a repository the account may not pull
 *       answers 403 too) runs it at most once a second, while a rotation soon after a run is
 *       still followed at once.</li>
 *   <li>When the lifetime is over and the new run fails, the old answer is still used (the
 *       upstream is the judge of whether it still works; a refusal runs the helper again) and the
 *       next run is tried after {@link #RETRY_AFTER_FAILURE}. A failed run after a refusal fails
 *       the requests waiting for it with the helper's error.</li>
 * </ul>
 *
 * Failures are logged with the helper's name and exit status, never with what it printed.
 * Thread-safe.
 */
final class HelperCredentials implements UpstreamCredentials {

    static final Duration HOLD_OFF = Duration.ofSeconds(1);
    static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(HelperCredentials.class);

    private record Answer(RegistryCredentials credentials, Instant obtainedAt) {
    }

    private final String upstream;
    private final CredentialSource.Helper helper;
    private final String serverUrl;
    private final Executor blocking;
    private final Clock clock;
    private final Duration timeout;

    // Guarded by this.
    private Answer answer;
    private Instant retryAt;
    private Instant notBefore = Instant.MIN;
    private CompletableFuture<Optional<RegistryCredentials>> running;

    HelperCredentials(String upstream, CredentialSource.Helper helper, String serverUrl, Executor blocking, Clock clock,
                      Duration timeout) {
        this.upstream = Objects.requireNonNull(upstream, "upstream");
        this.helper = Objects.requireNonNull(helper, "helper");
        this.serverUrl = Objects.requireNonNull(serverUrl, "serverUrl");
        this.blocking = Objects.requireNonNull(blocking, "blocking");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    @Override
    public synchronized CompletableFuture<Optional<RegistryCredentials>> current() {
        if (running != null) {
            return running.copy();
        }
        Instant now = clock.instant();
        if (answer != null && (now.isBefore(answer.obtainedAt().plus(helper.lifetime()))
                || retryAt != null && now.isBefore(retryAt))) {
            return CompletableFuture.completedFuture(Optional.of(answer.credentials()));
        }
        return run(answer, "lifetime").copy();
    }

    @Override
    public synchronized CompletableFuture<Optional<RegistryCredentials>> refused(RegistryCredentials used) {
        if (running != null) {
            return running.copy();
        }
        if (answer != null && (!answer.credentials().equals(used) || clock.instant().isBefore(notBefore))) {
            // Renewed since that request was sent, or run just now for nothing: nothing new to try.
            return CompletableFuture.completedFuture(Optional.of(answer.credentials()));
        }
        return run(null, "refusal").copy();
    }

    @Override
    public boolean renewable() {
        return true;
    }

    /** Starts a run; {@code fallback} is what waiters get if it fails (null: the failure). Holds the lock. */
    private CompletableFuture<Optional<RegistryCredentials>> run(Answer fallback, String why) {
        CompletableFuture<Optional<RegistryCredentials>> f = new CompletableFuture<>();
        running = f;
        try {
            blocking.execute(() -> {
                RegistryCredentials c = null;
                RuntimeException error = null;
                try {
                    c = CredentialHelper.get(helper, serverUrl, timeout);
                } catch (RuntimeException e) {
                    error = e;
                }
                finish(f, c, error, fallback, why);
            });
        } catch (RejectedExecutionException e) {
            // Completing under the lock is safe here: nobody has seen f yet.
            finish(f, null, new CredentialsException(CredentialHelper.describe(helper) + " of upstream '" + upstream
                    + "' was not run: the executor is saturated"), fallback, why);
        }
        return f;
    }

    private void finish(CompletableFuture<Optional<RegistryCredentials>> f, RegistryCredentials c,
                        RuntimeException error, Answer fallback, String why) {
        Instant now = clock.instant();
        synchronized (this) {
            running = null;
            boolean renewed = error == null && (answer == null || !answer.credentials().equals(c));
            notBefore = renewed ? Instant.MIN : now.plus(HOLD_OFF);
            if (error == null) {
                answer = new Answer(c, now);
                retryAt = null;
            } else if (fallback != null) {
                retryAt = now.plus(RETRY_AFTER_FAILURE);
            }
        }
        if (error == null) {
            LOG.debug("upstream '{}': {} answered ({}) for user '{}'", upstream, CredentialHelper.describe(helper),
                    why, c.username());
            f.complete(Optional.of(c));
        } else if (fallback != null) {
            // The message names the helper and its status, never its output.
            LOG.warn("upstream '{}': {}; still using its previous answer, asking again in {} s", upstream,
                    error.getMessage(), RETRY_AFTER_FAILURE.toSeconds());
            f.complete(Optional.of(fallback.credentials()));
        } else {
            LOG.warn("upstream '{}': {}", upstream, error.getMessage());
            f.completeExceptionally(new UpstreamException(UpstreamException.Kind.UNAUTHORIZED, 0, null, 1,
                    "upstream '" + upstream + "': " + error.getMessage(), null));
        }
    }
}
