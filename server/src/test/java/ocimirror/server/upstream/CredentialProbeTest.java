package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.Programs;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import ocimirror.testing.TokenServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The check of a client's credentials against a Bearer upstream (a plain-HTTP {@code docker-registry}
 * with {@code auth: token:} and a token endpoint in the test): the token exchange is done with the
 * client's credentials, and the token endpoint's refusal is the upstream's.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CredentialProbeTest {
    private TokenServer tokens;
    private DockerRegistry registry;
    private EventLoopGroup group;
    private CredentialProbe probe;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        Programs.require("openssl", "openssl");
        Programs.require("docker-registry", "docker-registry");
        TestPki pki = TestPki.create(tmp.resolve("pki"));
        TestPki.Issued signer = pki.signer("token-signer");
        tokens = new TokenServer(signer.privateKey(), signer.certificate(), "bob", "secret-b");
        registry = DockerRegistry.builder(tmp.resolve("registry"))
                .token(tokens.realm(), tokens.service(), tokens.issuer(), pki.caCert()).start();
        registry.push(TinyImage.write(tmp.resolve("image"), "1", 2_000, 5), "private/app:1", null, "bob:secret-b");
        group = NettyUpstreamClient.newEventLoopGroup(1);
        probe = new CredentialProbe(UpstreamConfig.builder("b", registry.url()).plainHttp(true).build(), group,
                Clock.systemUTC(), "ocimirror-test");
    }

    @AfterAll
    void stop() {
        if (probe != null) {
            probe.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (registry != null) {
            registry.close();
        }
        if (tokens != null) {
            tokens.close();
        }
    }

    @Test
    void theTokenIsFetchedWithTheClientsCredentials() throws Exception {
        RepoName repo = RepoName.of("private/app");
        assertEquals(200, probe.status(repo, "1", new RegistryCredentials("bob", "secret-b")).get(10, TimeUnit.SECONDS));
        assertEquals(404, probe.status(repo, "latest", new RegistryCredentials("bob", "secret-b"))
                .get(10, TimeUnit.SECONDS), "an accepted client asking for a missing tag");
        List<TokenServer.Hit> hits = tokens.hitsFor("repository:private/app:pull");
        assertTrue(hits.stream().allMatch(h -> h.authorization().equals("Basic Ym9iOnNlY3JldC1i")), hits.toString());
        assertEquals(2, hits.size(), "a token per check: none shared between clients");

        assertEquals(401, probe.status(repo, "1", new RegistryCredentials("bob", "guess")).get(10, TimeUnit.SECONDS),
                "the token endpoint refused them");
    }

    @Test
    void anUnreachableUpstreamFailsTheCheck() {
        try (CredentialProbe nowhere = new CredentialProbe(UpstreamConfig.builder("n", "http://127.0.0.1:1")
                .plainHttp(true).build(), group, Clock.systemUTC(), "ocimirror-test")) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> nowhere.status(RepoName.of("a/b"), "1",
                    new RegistryCredentials("bob", "secret-b")).get(10, TimeUnit.SECONDS));
            assertEquals(UpstreamException.Kind.UNREACHABLE, assertInstanceOf(UpstreamException.class, e.getCause())
                    .kind());
        }
    }
}
