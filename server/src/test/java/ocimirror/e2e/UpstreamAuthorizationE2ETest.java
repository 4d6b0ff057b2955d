package ocimirror.e2e;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import ocimirror.config.AuthConfig;
import ocimirror.config.ClientAuthorization;
import ocimirror.config.CredentialSource;
import ocimirror.config.MirrorConfig;
import ocimirror.config.ObservabilityConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.MirrorServer;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.SecuredUpstream;
import ocimirror.testing.Skopeo;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code authorization: upstream} against a real docker-registry over TLS with htpasswd: the
 * mirror fetches with its own robot account, alice (in the upstream's file, not in the mirror's)
 * pulls through with skopeo, bob (in the mirror's file, not in the upstream's) is refused the
 * very content alice's pull cached, and a client without credentials is challenged. No log line
 * and no audit line holds a client's password.
 *
 * <p>No 403 case here: distribution's htpasswd gives every user every repository, and the
 * mirror's own client authentication has no per-repository rules either (pull or push per user),
 * so neither can refuse one user one repository; UpstreamAuthorizationTest covers 403.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class UpstreamAuthorizationE2ETest {
    private static final String ALIAS = "corp.test";
    private static final String REPO = "team/app";
    private static final String ROBOT_PASSWORD = "robot-pw-7c1e";
    private static final String ALICE_PASSWORD = "alice-pw-93fd";
    private static final String BOB_PASSWORD = "bob-pw-5a02";

    @TempDir
    Path tmp;

    @Test
    void theUpstreamDecidesWhoReadsItsRepositoriesCachedOrNot() throws Exception {
        Programs.requireAll("docker-registry", "skopeo", "htpasswd", "openssl");
        TestPki pki = TestPki.create(tmp.resolve("pki"));
        Path upstreamUsers = Files.createDirectories(tmp.resolve("upstream")).resolve("htpasswd");
        Programs.run("htpasswd", "-B", "-b", "-c", upstreamUsers.toString(), "robot", ROBOT_PASSWORD);
        Programs.run("htpasswd", "-B", "-b", upstreamUsers.toString(), "alice", ALICE_PASSWORD);
        Path mirrorUsers = tmp.resolve("mirror-htpasswd");
        Programs.run("htpasswd", "-B", "-b", "-c", mirrorUsers.toString(), "bob", BOB_PASSWORD);
        Path robotPassword = Files.writeString(tmp.resolve("robot-password"), ROBOT_PASSWORD);
        Path audit = Files.createDirectories(tmp.resolve("logs")).resolve("audit.log");

        ListAppender<ILoggingEvent> events = new ListAppender<>();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger ours = (Logger) LoggerFactory.getLogger("ocimirror");
        Level level = ours.getLevel();
        events.start();
        root.addAppender(events);
        ours.setLevel(Level.DEBUG); // debug lines must not hold a password either
        try (DockerRegistry upstream = DockerRegistry.builder(tmp.resolve("upstream"))
                .tls(pki.server("upstream", "IP:127.0.0.1,DNS:localhost"))
                .auth("htpasswd: { realm: upstream, path: " + upstreamUsers + " }\n").start()) {
            TinyImage image = TinyImage.write(tmp.resolve("layout"), "v1", 64 * 1024, 7);
            upstream.push(image, REPO + ":v1", pki.certDir(), "robot:" + ROBOT_PASSWORD);
            MirrorConfig config = MirrorConfig.defaults()
                    .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                    .withDataDir(tmp.resolve("data")).withTls(TlsConfig.off())
                    .withRouting(List.of(UpstreamConfig.builder("corp", upstream.url()).aliases(ALIAS)
                            .caCert(pki.caCert())
                            .credentials(new CredentialSource.PasswordFile("robot", robotPassword))
                            .authorization(ClientAuthorization.upstream(null)).build()), List.of("local"))
                    .withAuth(new AuthConfig(mirrorUsers, "mirror-e2e", Map.of(), null))
                    .withObservability(new ObservabilityConfig(ObservabilityConfig.Metrics.defaults(),
                            new ObservabilityConfig.Log(ObservabilityConfig.LogFormat.TEXT,
                                    new ObservabilityConfig.Audit(audit, true, 1 << 20, 2))));
            try (MirrorServer mirror = MirrorServer.start(config)) {
                String hostPort = "127.0.0.1:" + mirror.localAddress().getPort();
                RegistryClient m = new RegistryClient(hostPort);
                String manifest = "/v2/" + ALIAS + "/" + REPO + "/manifests/v1";
                String blob = "/v2/" + ALIAS + "/" + REPO + "/blobs/" + image.layerDigest();

                for (String path : List.of("/v2/", manifest, blob)) {
                    HttpResponse<byte[]> anonymous = m.get(path);
                    assertEquals(401, anonymous.statusCode(), path + ": " + RegistryClient.describe(anonymous));
                    assertEquals("Basic realm=\"mirror-e2e\"",
                            anonymous.headers().firstValue("WWW-Authenticate").orElse(null));
                }

                Path pulled = tmp.resolve("pulled");
                new Skopeo(tmp.resolve("skopeo")).copyWith(List.of("--src-tls-verify=false", "--src-creds",
                        "alice:" + ALICE_PASSWORD), Skopeo.docker(hostPort, ALIAS + "/" + REPO, "v1"),
                        Skopeo.oci(pulled, "v1")).requireSuccess();
                assertArrayEquals(image.layer(), Files.readAllBytes(pulled.resolve("blobs/sha256/"
                        + image.layerDigest().hex())));
                // The mirror itself GETs what it fetches: the HEAD is the check, with alice's Basic.
                assertEquals(1, upstream.requests("HEAD", "/v2/" + REPO + "/manifests/v1"),
                        String.join("\n", upstream.log()));

                // Cached now: still the upstream's verdict, whatever the mirror's own file says of bob.
                String bob = basic("bob", BOB_PASSWORD);
                for (String path : List.of(manifest, blob)) {
                    HttpResponse<byte[]> refused = m.send(m.request(path).header("Authorization", bob)
                            .header("Accept", OciLayoutBuilder.OCI_MANIFEST).build());
                    assertEquals(401, refused.statusCode(), path + ": " + RegistryClient.describe(refused));
                    assertEquals("Basic realm=\"mirror-e2e\"",
                            refused.headers().firstValue("WWW-Authenticate").orElse(null));
                }
                HttpResponse<byte[]> alice = m.send(m.request(blob).header("Authorization",
                        basic("alice", ALICE_PASSWORD)).build());
                assertEquals(200, alice.statusCode(), RegistryClient.describe(alice));
                assertArrayEquals(image.layer(), alice.body());
                String metrics = mirror.metrics().scrape();
                assertTrue(metrics.contains("ocimirror_client_authorization_decisions_total{result=\"denied\","
                        + "upstream=\"corp\"} 4.0"), metrics); // two anonymous, two of bob
            }
            List<String> lines = new ArrayList<>(Files.readAllLines(audit));
            assertFalse(lines.isEmpty());
            assertTrue(lines.stream().anyMatch(l -> l.contains("\"user\":\"alice\"")), String.join("\n", lines));
            for (ILoggingEvent e : events.list) {
                lines.add(e.getFormattedMessage() + (e.getThrowableProxy() == null ? ""
                        : ThrowableProxyUtil.asString(e.getThrowableProxy())));
            }
            assertTrue(events.list.stream().anyMatch(e -> e.getLevel() == Level.DEBUG), "debug lines were captured");
            for (String secret : List.of(ALICE_PASSWORD, BOB_PASSWORD, basic("alice", ALICE_PASSWORD).substring(6),
                    basic("bob", BOB_PASSWORD).substring(6))) {
                for (String line : lines) {
                    assertFalse(line.contains(secret), "a client's credentials in a log line: " + line);
                }
            }
        } finally {
            root.detachAppender(events);
            ours.setLevel(level);
        }
    }

    private static String basic(String user, String password) {
        return "Basic " + SecuredUpstream.base64(user + ":" + password);
    }
}
