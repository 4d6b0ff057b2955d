package ocimirror.server.upstream;

import java.time.Clock;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import ocimirror.config.CredentialSource;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;

/**
 * Where {@link UpstreamAuth} takes the mirror's credentials for one upstream from: fixed ones
 * read at start-up, or a credential helper's answer that changes over time
 * ({@link HelperCredentials}). Futures may complete on another thread than the caller's.
 */
interface UpstreamCredentials {

    /** The credentials to send now; empty for anonymous access. */
    CompletableFuture<Optional<RegistryCredentials>> current();

    /**
     * The upstream refused {@code used}: the credentials to try instead. Fixed credentials
     * answer with themselves; a helper is run again (once for all concurrent refusals).
     * Equal to {@code used} when there is nothing new to try.
     */
    CompletableFuture<Optional<RegistryCredentials>> refused(RegistryCredentials used);

    /** Whether {@link #refused} can ever answer something new. */
    boolean renewable();

    static UpstreamCredentials fixed(Optional<RegistryCredentials> credentials) {
        Objects.requireNonNull(credentials, "credentials");
        CompletableFuture<Optional<RegistryCredentials>> done = CompletableFuture.completedFuture(credentials);
        return new UpstreamCredentials() {
            @Override
            public CompletableFuture<Optional<RegistryCredentials>> current() {
                return done.copy();
            }

            @Override
            public CompletableFuture<Optional<RegistryCredentials>> refused(RegistryCredentials used) {
                return done.copy();
            }

            @Override
            public boolean renewable() {
                return false;
            }
        };
    }

    /**
     * The credentials of {@code upstream}: a helper runs on {@code blocking} when first needed;
     * any other source is read now.
     *
     * @throws ocimirror.config.CredentialsException if a credentials file cannot be read
     */
    static UpstreamCredentials of(UpstreamConfig upstream, Executor blocking, Clock clock) {
        if (upstream.credentials() instanceof CredentialSource.Helper h) {
            return new HelperCredentials(upstream.name(), h, ocimirror.config.CredentialHelper.serverUrl(upstream),
                    blocking, clock, ocimirror.config.CredentialHelper.DEFAULT_TIMEOUT);
        }
        return fixed(RegistryCredentials.forUpstream(upstream));
    }
}
