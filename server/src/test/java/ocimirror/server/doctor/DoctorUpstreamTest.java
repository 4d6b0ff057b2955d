package ocimirror.server.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.config.ClientAuthorization;
import ocimirror.config.CredentialSource;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.UpstreamUrl;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.ServerCredentials;
import ocimirror.config.pki.ServerNames;
import ocimirror.server.doctor.Check.Status;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.MutableClock;
import ocimirror.testing.Programs;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upstream checks against real {@code docker-registry} processes on 127.0.0.1: one with TLS
 * from a {@link TestPki} CA and htpasswd (pass, missing or wrong caCert, wrong password, missing
 * image), one whose certificate names only {@code other.test}, one with an expired certificate,
 * and a closed port and an unresolvable host.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DoctorUpstreamTest {

    private static final String USER = "alice";
    private static final String PASSWORD = "secret-a";

    private Path tmp;
    private TestPki pki;
    private DockerRegistry registry;
    private DockerRegistry otherName;
    private DockerRegistry expired;
    private X509Certificate expiredLeaf;
    private Path expiredCa;
    private TinyImage image;
    private Path passwordFile;
    private Path wrongPasswordFile;
    private EventLoopGroup group;

    @BeforeAll
    void start(@TempDir Path base) throws Exception {
        tmp = base;
        Programs.require("openssl", "openssl");
        Programs.require("docker-registry", "docker-registry");
        pki = TestPki.create(tmp.resolve("pki"));
        registry = DockerRegistry.builder(tmp.resolve("a")).tls(pki.server("upstream", "IP:127.0.0.1,DNS:localhost"))
                .htpasswd(USER, PASSWORD).start();
        image = TinyImage.write(tmp.resolve("image"), "1", 2_000, 7);
        registry.push(image, "team/app:1", pki.certDir(), USER + ":" + PASSWORD);
        otherName = DockerRegistry.builder(tmp.resolve("b")).tls(pki.server("other", "DNS:other.test")).start();

        // A certificate that expired about a year ago, from a CA that is still valid.
        MutableClock past = new MutableClock(Instant.now().minus(Duration.ofDays(760)));
        CertificateAuthority oldCa = CertificateAuthority.create(KeyAlgorithm.EC_P256, past);
        ServerCredentials old = oldCa.issueServer(ServerNames.of(List.of("127.0.0.1", "localhost")));
        expiredLeaf = old.leaf();
        Path dir = Files.createDirectories(tmp.resolve("expired-pki"));
        expiredCa = dir.resolve("ca.crt");
        Pem.writeCertificates(expiredCa, List.of(oldCa.certificate()));
        Pem.writeCertificates(dir.resolve("server.crt"), old.chain());
        Pem.writePrivateKey(dir.resolve("server.key"), old.privateKey());
        expired = DockerRegistry.builder(tmp.resolve("c"))
                .tls(new TestPki.Issued(dir.resolve("server.crt"), dir.resolve("server.key"))).start();

        passwordFile = Files.writeString(tmp.resolve("alice.pw"), PASSWORD + "\n");
        wrongPasswordFile = Files.writeString(tmp.resolve("wrong.pw"), "not-the-password\n");
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterAll
    void stop() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        for (DockerRegistry r : new DockerRegistry[] {registry, otherName, expired}) {
            if (r != null) {
                r.close();
            }
        }
    }

    private UpstreamConfig.Builder upstream(String url) {
        return UpstreamConfig.builder("a", url);
    }

    private UpstreamConfig.Builder good() {
        return upstream(registry.url()).caCert(pki.caCert())
                .credentials(new CredentialSource.PasswordFile(USER, passwordFile));
    }

    private List<Check> doctor(UpstreamConfig u, String repo) {
        List<Check> checks = new ArrayList<>();
        Clock clock = Clock.systemUTC();
        Doctor.Options options = new Doctor.Options(Optional.empty(), Duration.ofSeconds(5), Optional.ofNullable(repo),
                null, false, List.of());
        Doctor.Summary summary = new Doctor(List.of(u), options, clock,
                c -> NettyUpstreamClient.create(c, group, clock)).run(checks::add);
        long failed = checks.stream().filter(c -> c.status() == Status.FAIL).count();
        assertEquals(failed, summary.failures(), "summary counts the FAIL lines: " + checks);
        assertEquals(failed == 0 ? 0 : 1, summary.exitStatus());
        return checks;
    }

    private static Check only(List<Check> checks, Status status) {
        List<Check> found = checks.stream().filter(c -> c.status() == status).toList();
        assertEquals(1, found.size(), "exactly one " + status + " in " + checks);
        return found.get(0);
    }

    private static String print(List<Check> checks) {
        StringBuilder b = new StringBuilder();
        checks.forEach(c -> c.lines().forEach(l -> b.append(l).append('\n')));
        return b.toString();
    }

    @Test
    void rightCaCertAndCredentialsPassEveryCheck() {
        List<Check> checks = doctor(good().build(), "team/app:1");
        assertTrue(checks.stream().allMatch(c -> c.status() == Status.OK), print(checks));
        assertEquals(List.of("upstream 'a' dns", "upstream 'a' tcp", "upstream 'a' tls", "upstream 'a' credentials",
                "upstream 'a' manifest"), checks.stream().map(Check::subject).toList());
        assertTrue(checks.get(2).message().contains("chains to 'CN=ocimirror test CA' from caCert " + pki.caCert()),
                checks.get(2).message());
        assertTrue(checks.get(3).message().startsWith("Basic credentials of user 'alice' accepted"), print(checks));
        assertTrue(checks.get(4).message().contains(image.manifestDigest().toString()), print(checks));
        print(checks).lines().forEach(l -> assertTrue(l.startsWith("ok   upstream 'a' "), l));
    }

    @Test
    void anUpstreamThatAuthorizesClientsIsSaidSo() {
        List<Check> checks = doctor(good().authorization(ClientAuthorization.upstream(Duration.ofSeconds(30))).build(),
                "team/app:1");
        assertEquals("upstream 'a' authorization", checks.get(0).subject());
        assertTrue(checks.get(0).message().startsWith("delegated: clients may read its repositories if the upstream"
                + " accepts their own credentials (authorization: upstream, answers remembered 30 s)"), print(checks));
        assertEquals(6, checks.size(), print(checks));
        assertFalse(doctor(good().build(), "team/app:1").stream().anyMatch(c -> c.subject().endsWith("authorization")));
    }

    @Test
    void withoutCaCertTheUntrustedCaIsNamedAndTheFixIsCaCert() {
        List<Check> checks = doctor(good().caCert(null).build(), "team/app:1");
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' tls", fail.subject());
        assertTrue(fail.message().contains("chain ends at 'CN=ocimirror test CA'"), fail.message());
        assertTrue(fail.message().contains("not trusted: add it as caCert"), fail.message());
        assertTrue(fail.fix().contains("set caCert of upstream 'a'"), fail.fix());
        assertEquals("upstream 'a' credentials, manifest", checks.get(checks.size() - 1).subject());
        assertEquals(Status.SKIP, checks.get(checks.size() - 1).status());
    }

    @Test
    void aCaCertOfTheSameNameButAnotherKeyIsCalledOut() throws Exception {
        TestPki recreated = TestPki.create(tmp.resolve("recreated"));
        Check fail = only(doctor(good().caCert(recreated.caCert()).build(), null), Status.FAIL);
        assertTrue(fail.message().contains("'CN=ocimirror test CA'"), fail.message());
        assertTrue(fail.message().contains("caCert " + recreated.caCert() + " holds a certificate of that name but with"
                + " another key"), fail.message());
        assertTrue(fail.fix().startsWith("replace caCert " + recreated.caCert()), fail.fix());
    }

    @Test
    void aCaCertOfAnotherCaSaysWhatItHoldsInstead() {
        Check fail = only(doctor(good().caCert(expiredCa).build(), null), Status.FAIL);
        assertTrue(fail.message().contains("chain ends at 'CN=ocimirror test CA'"), fail.message());
        assertTrue(fail.fix().contains("caCert " + expiredCa + " of upstream 'a' holds 'CN=ocimirror CA"), fail.fix());
        assertTrue(fail.fix().contains("not 'CN=ocimirror test CA'"), fail.fix());
    }

    @Test
    void wrongPasswordFailsTheCredentials() {
        List<Check> checks = doctor(good().credentials(new CredentialSource.PasswordFile(USER, wrongPasswordFile)).build(),
                "team/app:1");
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' credentials", fail.subject());
        assertTrue(fail.message().contains("refused the Basic credentials of user 'alice'"), fail.message());
        assertTrue(fail.message().contains("answered 401"), fail.message());
        assertTrue(fail.fix().contains("passwordFile " + wrongPasswordFile), fail.fix());
        assertEquals(Status.OK, checks.stream().filter(c -> c.subject().endsWith("tls")).findFirst().orElseThrow().status());
    }

    @Test
    void noCredentialsForABasicRegistrySaysToAddThem() {
        Check fail = only(doctor(good().credentials(null).build(), null), Status.FAIL);
        assertTrue(fail.message().contains("asks for Basic credentials and upstream 'a' has none"), fail.message());
        assertTrue(fail.fix().contains("passwordFile"), fail.fix());
    }

    @Test
    void aMissingImageFailsTheManifestHead() {
        List<Check> checks = doctor(good().build(), "team/nothing:1");
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' manifest", fail.subject());
        assertTrue(fail.message().contains("team/nothing:1") && fail.message().contains("404"), fail.message());
        assertTrue(fail.fix().contains("check the repository and tag"), fail.fix());
    }

    @Test
    void withoutARepositoryTheManifestHeadIsSkippedWithANote() {
        List<Check> checks = doctor(good().build(), null);
        Check last = checks.get(checks.size() - 1);
        assertEquals(Status.SKIP, last.status(), print(checks));
        assertTrue(last.message().contains("--repo"), last.message());
        assertEquals(0, checks.stream().filter(c -> c.status() == Status.FAIL).count(), print(checks));
    }

    @Test
    void aCertificateForAnotherHostNamesTheNamesItCovers() {
        List<Check> checks = doctor(upstream(otherName.url()).caCert(pki.caCert()).build(), null);
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' tls", fail.subject());
        assertEquals("certificate 'CN=other' does not cover '127.0.0.1'; it covers other.test", fail.message());
        assertTrue(fail.fix().contains("subjectAltName IP:127.0.0.1"), fail.fix());
    }

    @Test
    void anExpiredCertificateIsReportedWithItsDate() {
        List<Check> checks = doctor(upstream(expired.url()).caCert(expiredCa).build(), null);
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' tls", fail.subject());
        String date = CertificateNames.date(expiredLeaf.getNotAfter().toInstant());
        assertTrue(fail.message().endsWith("expired on " + date), fail.message());
        assertTrue(fail.message().startsWith("certificate 'CN="), fail.message());
        assertTrue(fail.fix().contains("renew"), fail.fix());
    }

    @Test
    void aClosedPortFailsTcpWithAFix() throws Exception {
        int port = Programs.freePort();
        List<Check> checks = doctor(upstream("https://127.0.0.1:" + port).build(), null);
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' tcp", fail.subject());
        assertEquals("cannot connect to 127.0.0.1:" + port + ": 127.0.0.1:" + port + ": connection refused",
                fail.message());
        assertTrue(fail.fix().startsWith("nothing listens on port " + port + " of 127.0.0.1"), fail.fix());
        assertEquals("upstream 'a' tls, credentials, manifest", checks.get(checks.size() - 1).subject());
    }

    @Test
    void everyUrlOfAnUpstreamIsCheckedWithItsOwnCaAndCredentialsAndNamedOnItsLines() throws Exception {
        int port = Programs.freePort();
        String closed = "https://127.0.0.1:" + port;
        List<Check> checks = doctor(upstream(closed).failover(new UpstreamUrl(java.net.URI.create(registry.url()),
                pki.caCert(), new CredentialSource.PasswordFile(USER, passwordFile))).build(), "team/app:1");
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' url " + closed + " tcp", fail.subject());
        String second = "upstream 'a' url " + registry.url() + " ";
        assertEquals(List.of("upstream 'a' url " + closed + " dns", second + "dns", second + "tcp", second + "tls", second + "credentials", second + "manifest"),
                checks.stream().filter(c -> c.status() == Status.OK).map(Check::subject).toList(), print(checks));
        assertTrue(checks.stream().allMatch(c -> c.subject().startsWith("upstream 'a' url ")), print(checks));
    }

    @Test
    void anUnresolvableHostFailsDns() {
        List<Check> checks = doctor(upstream("https://registry-a.test:5000").build(), null);
        Check fail = only(checks, Status.FAIL);
        assertEquals("upstream 'a' dns", fail.subject());
        assertTrue(fail.message().startsWith("cannot resolve 'registry-a.test'"), fail.message());
        assertTrue(fail.fix().contains("getent hosts registry-a.test"), fail.fix());
        assertEquals(2, checks.size(), print(checks));
    }
}
