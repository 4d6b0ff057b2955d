package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.Pem;
import ocimirror.testing.Containerd;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.MirrorStack;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mirror as it runs by default, HTTPS with the CA it generated under its data directory, and
 * clients trusting it only through what {@code ocimirror ca export} wrote: containerd with the
 * {@code containerd} export ({@code certs.d/<host>/hosts.toml} + {@code ca.crt}) pulling through
 * from a real upstream, and refusing a mirror whose CA is not the exported one; skopeo with the
 * {@code docker} export as its cert dir, pushing into the hosted namespace and pulling back. The
 * upstream's alias does not resolve, so a pull that works was served by the mirror.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TlsE2ETest {
    private static final String ALIAS = "registry-t.test";
    private static final String REPO = "team/app";
    private static final String[] PROGRAMS = {"docker-registry", "skopeo"};

    @TempDir
    static Path tmp;
    private static MirrorStack stack;
    private static TinyImage image;
    private static String mirrorHostPort;
    private static Path data;
    private static Containerd containerd;
    private static Skopeo skopeo;
    private final AtomicInteger namespaces = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        if (!Programs.present(PROGRAMS) && !Programs.inCi()) {
            return; // each test skips in requirePrograms()
        }
        DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"));
        stack = MirrorStack.over(upstream);
        image = TinyImage.write(tmp.resolve("layout"), "v1", 256 * 1024, 41);
        upstream.push(image, REPO + ":v1", null, null);
        data = tmp.resolve("mirror-data");
        MirrorConfig config = MirrorConfig.defaults()     // TLS generate: the product default
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(data)
                .withRouting(List.of(UpstreamConfig.builder("upstream-t", upstream.url()).aliases(ALIAS)
                        .plainHttp(true).build()), List.of("local"));
        stack.start(config, tmp);
        mirrorHostPort = stack.hostPort();
        containerd = stack.containerd();
        skopeo = new Skopeo(tmp.resolve("skopeo"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @BeforeEach
    void requirePrograms() {
        Programs.requireAll(PROGRAMS);
    }

    @Test
    void containerdPullsThroughTheMirrorWithTheContainerdExport() throws Exception {
        Programs.require("containerd");
        Programs.requireRoot("containerd");
        Path hostsDir = CaExport.containerd(tmp.resolve("export-containerd"), ALIAS, mirrorHostPort,
                "--data", data.toString());
        String toml = Files.readString(hostsDir.resolve(ALIAS).resolve("hosts.toml"));
        assertTrue(toml.contains("[host.\"https://" + mirrorHostPort + "\"]"), toml);
        assertEquals(Pem.readCertificate(data.resolve("pki/ca.crt")), Pem.readCertificate(hostsDir.resolve(ALIAS)
                .resolve("ca.crt")), "the exported ca.crt is the CA the mirror generated");

        String ns = namespace();
        String ref = ALIAS + "/" + REPO + ":v1";
        containerd.pullWithHosts(hostsDir, ns, ref).requireSuccess();
        assertEquals(image.manifestDigest().toString(), containerd.imageTarget(ns, ref).orElseThrow());
        assertTrue(containerd.contentDigests(ns).contains(image.layerDigest().toString()),
                "the layer is in containerd's content store");
    }

    @Test
    void containerdRefusesTheMirrorWhenTheExportHoldsAnotherCa() throws Exception {
        Programs.require("containerd");
        Programs.requireRoot("containerd");
        CertificateAuthority other = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        Path otherCa = tmp.resolve("other-ca.crt");
        Pem.writeCertificates(otherCa, List.of(other.certificate()));
        Path hostsDir = CaExport.containerd(tmp.resolve("export-other"), ALIAS, mirrorHostPort,
                "--ca-file", otherCa.toString());

        Processes.Result pull = containerd.pullWithHosts(hostsDir, namespace(), ALIAS + "/" + REPO + ":v1");
        assertNotEquals(0, pull.exitCode(), "a pull trusting another CA must fail");
        assertTrue(pull.stderr().contains("x509: certificate signed by unknown authority"), pull.stderr());
    }

    @Test
    void skopeoPushesAndPullsWithTheDockerExportAsCertDir() throws Exception {
        Path certDir = CaExport.docker(tmp.resolve("export-docker"), mirrorHostPort, "--data", data.toString());
        assertTrue(Files.isRegularFile(certDir.resolve("ca.crt")), certDir + " holds ca.crt");

        String hosted = Skopeo.docker(mirrorHostPort, "local/app", "v1");
        skopeo.copyWith(List.of("--preserve-digests", "--dest-cert-dir", certDir.toString()), image.source(), hosted)
                .requireSuccess();
        Path back = tmp.resolve("pulled-back");
        skopeo.copyWith(List.of("--src-cert-dir", certDir.toString()), hosted, Skopeo.oci(back, "v1")).requireSuccess();
        assertArrayEquals(image.layer(), Files.readAllBytes(back.resolve("blobs/sha256/" + image.layerDigest().hex())));
        String proxied = Skopeo.docker(mirrorHostPort, ALIAS + "/" + REPO, "v1");
        assertArrayEquals(image.manifest(), skopeo.run(List.of("inspect", "--raw", "--cert-dir", certDir.toString(),
                proxied)).requireSuccess().stdoutBytes(), "the upstream's manifest, byte for byte, over TLS");

        Processes.Result untrusted = skopeo.run(List.of("inspect", "--raw", proxied));
        assertNotEquals(0, untrusted.exitCode(), "without the CA skopeo must refuse the mirror");
        assertTrue(untrusted.stderr().contains("x509: certificate signed by unknown authority"), untrusted.stderr());
    }

    private String namespace() {
        return "tls-" + namespaces.incrementAndGet();
    }
}
