package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import ocimirror.config.AuthConfig;
import ocimirror.server.auth.ClientAuthHandler;
import ocimirror.server.auth.HtpasswdAuthenticator;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.Commands;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cross-repository mounts behind client authentication, the pipeline as in production (flow
 * control, {@link ClientAuthHandler}, registry): a mount without {@code from} gets exactly the
 * rights check of one with it. Only a user who may push gets a mount; anyone else learns nothing
 * about the blob and gets nothing linked.
 */
class AuthenticatedMountTest {
    static final byte[] LAYER = "a layer that only some may see".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;
    Harness h;
    HtpasswdAuthenticator authenticator;

    @BeforeEach
    void open() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        Path file = dir.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", file.toString(), "ci", "push-pw");
        Commands.check("htpasswd", "-B", "-b", file.toString(), "node", "pull-pw");
        authenticator = new HtpasswdAuthenticator(new AuthConfig(file, "mirror", Map.of("ci", AuthConfig.Access.PUSH),
                null), new MutableClock(Instant.parse("2030-01-01T00:00:00Z")));
        h = new Harness(dir.resolve("data"), Harness.settings(true), Runnable::run,
                new ClientAuthHandler(authenticator, Runnable::run, new ErrorResponses()));
    }

    @AfterEach
    void close() {
        h.close();
        authenticator.close();
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private Harness.Response post(String uri, String authorization) {
        HttpRequest r = Harness.request(HttpMethod.POST, uri);
        if (authorization != null) {
            r.headers().set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        return h.send(r);
    }

    @Test
    void onlyAUserWhoMayPushMountsWithOrWithoutFrom() {
        String ci = basic("ci", "push-pw");
        HttpRequest push = Harness.request(HttpMethod.POST, "/v2/a/blobs/uploads/?digest=" + Digest.sha256(LAYER));
        push.headers().set(HttpHeaderNames.AUTHORIZATION, ci);
        assertEquals(201, h.send(push, LAYER).status());
        Digest d = Digest.sha256(LAYER);
        RepoName b = RepoName.of("b");

        for (String mount : new String[] {"/v2/b/blobs/uploads/?mount=" + d, "/v2/b/blobs/uploads/?mount=" + d + "&from=a"}) {
            Harness.Response anonymous = post(mount, null);
            assertEquals(401, anonymous.status(), mount);
            assertEquals("UNAUTHORIZED", anonymous.code());
            Harness.Response wrong = post(mount, basic("ci", "guess"));
            assertEquals(401, wrong.status(), mount);
            Harness.Response pullOnly = post(mount, basic("node", "pull-pw"));
            assertEquals(403, pullOnly.status(), mount);
            assertEquals("DENIED", pullOnly.code());
            assertFalse(h.storage.metadata().isBlobLinked(b, d), "nothing linked for " + mount);
        }

        Harness.Response mounted = post("/v2/b/blobs/uploads/?mount=" + d, ci);
        assertEquals(201, mounted.status(), () -> new String(mounted.body()));
        assertEquals("/v2/b/blobs/" + d, mounted.header(HttpHeaderNames.LOCATION));
        assertEquals(d.toString(), mounted.header("Docker-Content-Digest"));
        assertTrue(h.storage.metadata().isBlobLinked(b, d));
        assertFalse(h.ch.finishAndReleaseAll());
    }
}
