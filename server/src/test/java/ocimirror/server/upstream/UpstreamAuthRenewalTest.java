package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.RegistryCredentials;
import org.junit.jupiter.api.Test;

/**
 * {@link UpstreamAuth} with renewable credentials: a refusal by the token endpoint or a 403 to a
 * request asks for new credentials once and tries them; fixed credentials are not retried.
 */
class UpstreamAuthRenewalTest {
    static final RegistryCredentials OLD = new RegistryCredentials("robot", "old-pw");
    static final RegistryCredentials NEW = new RegistryCredentials("robot", "new-pw");
    static final String CHALLENGE = "Bearer realm=\"https://auth.test/token\",service=\"reg\"";

    /** Answers OLD until refused, then NEW; counts the refusals. */
    static final class Renewable implements UpstreamCredentials {
        final AtomicInteger refusals = new AtomicInteger();
        volatile RegistryCredentials current = OLD;

        @Override
        public CompletableFuture<Optional<RegistryCredentials>> current() {
            return CompletableFuture.completedFuture(Optional.of(current));
        }

        @Override
        public CompletableFuture<Optional<RegistryCredentials>> refused(RegistryCredentials used) {
            refusals.incrementAndGet();
            current = NEW;
            return current();
        }

        @Override
        public boolean renewable() {
            return true;
        }
    }

    /** A token realm that accepts only NEW's password; records the Authorization values it got. */
    private static UpstreamAuth auth(UpstreamCredentials creds, List<String> seen) {
        return new UpstreamAuth("up", creds, false, Clock.systemUTC(), new ObjectMapper(), (URI url, String authorization) -> {
            seen.add(authorization);
            boolean ok = UpstreamAuth.basicHeader(NEW).equals(authorization);
            return CompletableFuture.completedFuture(new RawResponse(ok ? 200 : 401, new DefaultHttpHeaders(),
                    (ok ? "{\"token\":\"t-new\",\"expires_in\":300}" : "{}").getBytes(StandardCharsets.UTF_8)));
        });
    }

    @Test
    void aTokenEndpointRefusalRenewsTheCredentialsOnce() throws Exception {
        Renewable creds = new Renewable();
        List<String> seen = new java.util.ArrayList<>();
        String h = auth(creds, seen).onUnauthorized(List.of(CHALLENGE), "repository:a:pull", null).get();
        assertEquals("Bearer t-new", h);
        assertEquals(List.of(UpstreamAuth.basicHeader(OLD), UpstreamAuth.basicHeader(NEW)), seen);
        assertEquals(1, creds.refusals.get());
    }

    @Test
    void aForbiddenRequestWithBasicRenewsTheCredentialsOnlyIfTheyCanBeRenewed() throws Exception {
        Renewable creds = new Renewable();
        UpstreamAuth auth = auth(creds, new java.util.ArrayList<>());
        assertEquals(UpstreamAuth.basicHeader(NEW), auth.onForbidden("repository:a:pull", UpstreamAuth.basicHeader(OLD))
                .get());
        assertEquals(1, creds.refusals.get());
        UpstreamAuth fixed = auth(UpstreamCredentials.fixed(Optional.of(OLD)), new java.util.ArrayList<>());
        assertNull(fixed.onForbidden("repository:a:pull", UpstreamAuth.basicHeader(OLD)).get(), "nothing new to send");
        assertNull(fixed.onUnauthorized(List.of("Basic realm=\"r\""), "repository:a:pull", UpstreamAuth.basicHeader(OLD))
                .get(), "as before: a refused Basic is not sent again");
    }

    @Test
    void aForbiddenRequestWithABearerTokenGetsATokenForTheRenewedCredentials() throws Exception {
        Renewable creds = new Renewable();
        // A realm that gives every user a token named after the password it was given.
        UpstreamAuth auth = new UpstreamAuth("up", creds, false, Clock.systemUTC(), new ObjectMapper(),
                (url, authorization) -> CompletableFuture.completedFuture(new RawResponse(200, new DefaultHttpHeaders(),
                        ("{\"token\":\"t-" + UpstreamAuth.fromBasic(authorization).password() + "\"}")
                                .getBytes(StandardCharsets.UTF_8))));
        assertEquals("Bearer t-old-pw", auth.onUnauthorized(List.of(CHALLENGE), "repository:a:pull", null).get());
        assertNull(auth.onForbidden("repository:a:pull", "Bearer not-ours").get(), "not a token of ours");
        assertEquals(0, creds.refusals.get());
        assertEquals("Bearer t-new-pw", auth.onForbidden("repository:a:pull", "Bearer t-old-pw").get());
        assertEquals(1, creds.refusals.get());
        assertEquals("Bearer t-new-pw", auth.headerFor("repository:a:pull").get(), "the new token is cached");
    }
}
