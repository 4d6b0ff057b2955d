package ocimirror.server.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.config.CredentialSource;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.doctor.Check.Status;
import ocimirror.server.upstream.NettyUpstreamClient;
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
 * The credentials check on a Bearer upstream (a plain-HTTP {@code docker-registry} with
 * {@code auth: token:} and a token endpoint in the test), and an https:// url pointed at a
 * registry that speaks plain HTTP.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DoctorBearerTest {

    private TokenServer tokens;
    private DockerRegistry registry;
    private TinyImage image;
    private Path bobPassword;
    private Path wrongPassword;
    private EventLoopGroup group;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        Programs.require("openssl", "openssl");
        Programs.require("docker-registry", "docker-registry");
        TestPki pki = TestPki.create(tmp.resolve("pki"));
        TestPki.Issued signer = pki.signer("token-signer");
        tokens = new TokenServer(signer.privateKey(), signer.certificate(), "bob", "secret-b");
        registry = DockerRegistry.builder(tmp.resolve("registry"))
                .token(tokens.realm(), tokens.service(), tokens.issuer(), pki.caCert()).start();
        image = TinyImage.write(tmp.resolve("image"), "1", 2_000, 5);
        registry.push(image, "private/app:1", null, "bob:secret-b");
        bobPassword = Files.writeString(tmp.resolve("bob.pw"), "secret-b\n");
        wrongPassword = Files.writeString(tmp.resolve("wrong.pw"), "nope\n");
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterAll
    void stop() throws Exception {
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

    private UpstreamConfig.Builder plain() {
        return UpstreamConfig.builder("b", registry.url()).plainHttp(true);
    }

    private List<Check> doctor(UpstreamConfig u, String repo) {
        List<Check> checks = new ArrayList<>();
        Clock clock = Clock.systemUTC();
        new Doctor(List.of(u), new Doctor.Options(Optional.empty(), Duration.ofSeconds(5), Optional.ofNullable(repo),
                null, false, List.of()), clock, c -> NettyUpstreamClient.create(c, group, clock)).run(checks::add);
        return checks;
    }

    private static Check check(List<Check> checks, String name) {
        return checks.stream().filter(c -> c.subject().equals("upstream 'b' " + name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " check in " + checks));
    }

    @Test
    void anonymousTokenIsFetchedFromTheRealm() {
        List<Check> checks = doctor(plain().build(), null);
        Check creds = check(checks, "credentials");
        assertEquals(Status.OK, creds.status(), checks.toString());
        assertEquals("Bearer token from " + tokens.realm() + " (anonymous) accepted (GET " + registry.url()
                + "/v2/ answered 200)", creds.message());
        assertEquals(Status.SKIP, check(checks, "tls").status());
    }

    @Test
    void credentialsGetATokenAndTheManifestHeadGoesThroughTheMirrorsClient() {
        List<Check> checks = doctor(plain().credentials(new CredentialSource.PasswordFile("bob", bobPassword)).build(),
                "private/app:1");
        assertTrue(checks.stream().allMatch(c -> c.status() == Status.OK || c.subject().endsWith("tls")), checks.toString());
        assertTrue(check(checks, "credentials").message().contains("(user 'bob') accepted"), checks.toString());
        assertTrue(check(checks, "manifest").message().contains(image.manifestDigest().toString()), checks.toString());
        assertTrue(tokens.hits().stream().anyMatch(h -> h.scopes().contains("repository:private/app:pull")
                && h.authorization() != null), "the HEAD fetched a token for the repository with credentials");
    }

    @Test
    void aRefusedPasswordAtTheTokenEndpointFailsTheCredentials() {
        List<Check> checks = doctor(plain().credentials(new CredentialSource.PasswordFile("bob", wrongPassword)).build(),
                "private/app:1");
        Check creds = check(checks, "credentials");
        assertEquals(Status.FAIL, creds.status());
        assertTrue(creds.message().contains("refused the credentials of user 'bob'"), creds.message());
        assertTrue(creds.fix().contains("passwordFile " + wrongPassword), creds.fix());
        assertEquals(Status.SKIP, check(checks, "manifest").status());
    }

    @Test
    void httpsToAPlainHttpRegistrySaysToSetPlainHttp() {
        String url = "https://" + registry.hostPort();
        List<Check> checks = doctor(UpstreamConfig.builder("b", url).build(), null);
        Check tls = check(checks, "tls");
        assertEquals(Status.FAIL, tls.status());
        assertTrue(tls.message().startsWith("TLS handshake with " + registry.hostPort() + " failed"), tls.message());
        assertTrue(tls.fix().contains("plainHttp: true"), tls.fix());
    }
}
