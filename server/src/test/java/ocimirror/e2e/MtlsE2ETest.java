package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServer;
import ocimirror.testing.Containerd;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client certificates required ({@code tls.clientAuth: require} against a client CA made with the
 * openssl CLI), on the mirror's generated server certificate: skopeo with a cert dir holding the
 * exported {@code ca.crt} plus {@code client.cert}/{@code client.key}, and containerd with
 * {@code client = [[cert, key]]} in the exported {@code hosts.toml}, are served; the same clients
 * without a certificate, or with one from another CA, are refused in the handshake. The mirror is
 * a plain registry here (no upstream): every repository is hosted and containerd's {@code ns} is
 * ignored, so containerd pulls what skopeo pushed.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class MtlsE2ETest {
    private static final String SNAPSHOTTER = "native";
    private static final String ALIAS = "registry-m.test";
    private static final String[] PROGRAMS = {"skopeo", "openssl"};

    @TempDir
    static Path tmp;
    private static TinyImage image;
    private static MirrorServer mirror;
    private static String mirrorHostPort;
    private static Path data;
    private static TestPki.Issued client;
    private static TestPki.Issued stranger;
    private static Containerd containerd;
    private static Skopeo skopeo;
    private final AtomicInteger namespaces = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        if (!Programs.present(PROGRAMS) && !Programs.inCi()) {
            return; // each test skips in requirePrograms()
        }
        TestPki clients = TestPki.create(tmp.resolve("clients-pki"));
        client = clients.client("node-1");
        stranger = TestPki.create(tmp.resolve("other-pki")).client("stranger");
        image = TinyImage.write(tmp.resolve("layout"), "v1", 64 * 1024, 47);
        data = tmp.resolve("mirror-data");
        MirrorConfig config = MirrorConfig.defaults()
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(data)
                .withTls(new TlsConfig(TlsConfig.Mode.GENERATE, null, null, null, null, null, null, null,
                        clients.caCert(), TlsConfig.ClientAuth.REQUIRE));
        mirror = MirrorServer.start(config);
        mirrorHostPort = "127.0.0.1:" + mirror.localAddress().getPort();
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        skopeo.copyWith(List.of("--preserve-digests", "--dest-cert-dir", certDir("push", client).toString()),
                image.source(), Skopeo.docker(mirrorHostPort, "team/app", "v1")).requireSuccess();
        if (Programs.present("containerd", "ctr") && Programs.isRoot()) {
            containerd = Containerd.start(tmp.resolve("containerd"), SNAPSHOTTER);
        }
    }

    @AfterAll
    static void stop() {
        if (containerd != null) {
            containerd.close();
        }
        if (mirror != null) {
            mirror.close();
        }
    }

    @BeforeEach
    void requirePrograms() {
        for (String p : PROGRAMS) {
            Programs.require(p);
        }
    }

    @Test
    void skopeoWithAClientCertificateIsServedAndWithoutOneIsRefused() throws Exception {
        String ref = Skopeo.docker(mirrorHostPort, "team/app", "v1");
        Path back = tmp.resolve("pulled-back");
        skopeo.copyWith(List.of("--src-cert-dir", certDir("pull", client).toString()), ref, Skopeo.oci(back, "v1"))
                .requireSuccess();
        assertArrayEquals(image.layer(), Files.readAllBytes(back.resolve("blobs/sha256/" + image.layerDigest().hex())));

        Processes.Result none = skopeo.run(List.of("inspect", "--raw", "--cert-dir", certDir("none", null).toString(),
                ref));
        assertNotEquals(0, none.exitCode(), "no client certificate: refused");
        assertTrue(none.stderr().contains("remote error: tls: certificate required"), none.stderr());
        Processes.Result other = skopeo.run(List.of("inspect", "--raw", "--cert-dir",
                certDir("stranger", stranger).toString(), ref));
        assertNotEquals(0, other.exitCode(), "a certificate from another CA: refused");
        assertTrue(other.stderr().contains("remote error: tls:"), other.stderr());
    }

    @Test
    void containerdWithClientInHostsTomlPullsAndWithoutIsRefused() throws Exception {
        Programs.require("containerd");
        Programs.requireRoot("containerd");
        String ref = ALIAS + "/team/app:v1";
        Path plain = CaExport.containerd(tmp.resolve("export-plain"), ALIAS, mirrorHostPort, "--data", data.toString());
        Processes.Result refused = containerd.pullWithHosts(plain, namespace(), ref);
        assertNotEquals(0, refused.exitCode(), "no client certificate: refused");
        assertTrue(refused.stderr().contains("remote error: tls: certificate required"), refused.stderr());

        Path withClient = CaExport.containerd(tmp.resolve("export-client"), ALIAS, mirrorHostPort,
                "--data", data.toString());
        // The export ends with the mirror's [host."..."] table: the client pair belongs to it.
        Files.writeString(withClient.resolve(ALIAS).resolve("hosts.toml"), "  client = [[\"" + client.cert() + "\", \""
                + client.key() + "\"]]\n", StandardOpenOption.APPEND);
        String ns = namespace();
        containerd.pullWithHosts(withClient, ns, ref).requireSuccess();
        assertEquals(image.manifestDigest().toString(), containerd.imageTarget(ns, ref).orElseThrow());
    }

    /**
     * A skopeo cert dir: the mirror's CA as the {@code docker} export writes it, plus
     * {@code client.cert} and {@code client.key} when a certificate is given.
     */
    private static Path certDir(String name, TestPki.Issued cert) throws Exception {
        Path dir = CaExport.docker(tmp.resolve("cert-dir-" + name), mirrorHostPort, "--data", data.toString());
        if (cert != null) {
            Files.copy(cert.cert(), dir.resolve("client.cert"));
            Files.copy(cert.key(), dir.resolve("client.key"));
        }
        return dir;
    }

    private String namespace() {
        return "mtls-" + namespaces.incrementAndGet();
    }
}
