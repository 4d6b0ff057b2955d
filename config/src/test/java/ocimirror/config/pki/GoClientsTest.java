package ocimirror.config.pki;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exported trees used by the real Go clients, whose x509 checks are stricter than the JDK's:
 * a CNCF distribution registry serves the issued server certificate; skopeo pushes to it with the
 * {@code docker} export as its cert dir, and containerd pulls from it as a mirror with the
 * {@code containerd} export as its hosts dir. Another CA's exports are refused with an x509 error.
 */
class GoClientsTest {
    private static final String UPSTREAM = "registry-a.test"; // never resolves: a pull can only succeed via the mirror

    @TempDir
    Path tmp;

    private Process registry;
    private Process containerd;

    @AfterEach
    void stop() throws Exception {
        Programs.stop(containerd);
        Programs.stop(registry);
    }

    @Test
    void skopeoAndContainerdTrustTheMirrorThroughTheExports() throws Exception {
        for (String p : List.of("docker-registry", "skopeo", "containerd", "ctr")) {
            assumeTrue(Programs.installed(p), p + " is not installed");
        }
        Path pki = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(pki, KeyAlgorithm.EC_P256, Clock.systemUTC());
        ca.loadOrIssueServer(pki, ServerNames.withDefaults(List.of()));
        CertificateAuthority other = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        int port = Programs.freePort();
        String mirror = "127.0.0.1:" + port;
        startRegistry(pki, port, ca);

        // skopeo: the docker export as --dest-cert-dir.
        Path layout = writeOciImage(tmp.resolve("layout"));
        Path good = writeTree(tmp.resolve("docker"), TrustExport.docker(ca.certificate(), mirror));
        Path bad = writeTree(tmp.resolve("docker-other"), TrustExport.docker(other.certificate(), mirror));
        Programs.Result refused = skopeoCopy(layout, bad.resolve("certs.d/" + mirror), mirror);
        assertNotEquals(0, refused.exit(), refused.output());
        assertTrue(refused.output().contains("x509"), refused.output());
        Programs.Result pushed = skopeoCopy(layout, good.resolve("certs.d/" + mirror), mirror);
        assertEquals(0, pushed.exit(), pushed.output());

        // containerd: the containerd export as --hosts-dir, the registry standing in for the mirror.
        Path sock = startContainerd();
        Path hosts = writeTree(tmp.resolve("ctd"), TrustExport.containerd(ca.certificate(), mirror, UPSTREAM, null));
        Path otherHosts = writeTree(tmp.resolve("ctd-other"),
                TrustExport.containerd(other.certificate(), mirror, UPSTREAM, null));
        Programs.Result pullRefused = ctr(sock, "--debug", "-n", "refused", "images", "pull", "--platform", "linux/amd64",
                "--hosts-dir", otherHosts.resolve("certs.d").toString(), UPSTREAM + "/test/img:v1");
        assertNotEquals(0, pullRefused.exit(), pullRefused.output());
        assertTrue(pullRefused.output().contains("x509"), pullRefused.output());
        Programs.Result pulled = ctr(sock, "-n", "trusted", "images", "pull", "--platform", "linux/amd64",
                "--hosts-dir", hosts.resolve("certs.d").toString(), UPSTREAM + "/test/img:v1");
        assertEquals(0, pulled.exit(), pulled.output());
        Programs.Result listed = ctr(sock, "-n", "trusted", "images", "ls", "-q");
        assertTrue(listed.output().contains(UPSTREAM + "/test/img:v1"), listed.output());
    }

    private void startRegistry(Path pki, int port, CertificateAuthority ca) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("registry"));
        Files.writeString(dir.resolve("config.yml"), String.join("\n",
                "version: 0.1",
                "log: { level: info }",
                "storage:",
                "  filesystem: { rootdirectory: " + dir.resolve("data") + " }",
                "  maintenance: { uploadpurging: { enabled: false } }",
                "http:",
                "  addr: 127.0.0.1:" + port,
                "  tls: { certificate: " + pki.resolve("server.crt") + ", key: " + pki.resolve("server.key") + " }",
                ""));
        registry = Programs.start(dir, dir.resolve("registry.log"), List.of("docker-registry", "serve", "config.yml"));
        HttpClient client = HttpClient.newBuilder().sslContext(trusting(ca)).connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ping = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/v2/"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            assertTrue(registry.isAlive(), () -> "docker-registry exited: " + log(dir.resolve("registry.log")));
            try {
                if (client.send(ping, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // Not listening yet.
            }
            Thread.sleep(100);
        }
        throw new AssertionError("docker-registry not ready: " + log(dir.resolve("registry.log")));
    }

    private Path startContainerd() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("containerd"));
        Path sock = dir.resolve("ctrd.sock");
        Files.writeString(dir.resolve("config.toml"), String.join("\n",
                "version = 2",
                "root = \"" + dir.resolve("root") + "\"",
                "state = \"" + dir.resolve("state") + "\"",
                "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.tracing.processor.v1.otlp\","
                        + " \"io.containerd.internal.v1.tracing\"]",
                "[grpc]",
                "  address = \"" + sock + "\"",
                "[ttrpc]",
                "  address = \"" + sock + ".ttrpc\"",
                "[plugins.\"io.containerd.metadata.v1.bolt\"]",
                "  content_sharing_policy = \"isolated\"",
                ""));
        containerd = Programs.start(dir, dir.resolve("containerd.log"),
                List.of("containerd", "--config", dir.resolve("config.toml").toString()));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            assertTrue(containerd.isAlive(), () -> "containerd exited: " + log(dir.resolve("containerd.log")));
            if (Files.exists(sock) && ctr(sock, "version").exit() == 0) {
                return sock;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("containerd not ready: " + log(dir.resolve("containerd.log")));
    }

    private Programs.Result skopeoCopy(Path layout, Path certDir, String mirror) throws Exception {
        return Programs.run(tmp, Map.of(), Duration.ofSeconds(90), List.of("skopeo", "--registries-conf", "/dev/null",
                "copy", "--dest-cert-dir", certDir.toString(), "oci:" + layout + ":v1",
                "docker://" + mirror + "/test/img:v1"));
    }

    private Programs.Result ctr(Path sock, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("ctr", "--address", sock.toString()));
        cmd.addAll(List.of(args));
        return Programs.run(tmp, Map.of(), Duration.ofSeconds(90), cmd);
    }

    /** A one-layer linux/amd64 OCI image layout; the layer is an empty tar, gzip'd so containerd can unpack it. */
    private static Path writeOciImage(Path dir) throws Exception {
        ObjectMapper json = new ObjectMapper();
        byte[] tar = new byte[1024];
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(tar);
        }
        byte[] layer = gz.toByteArray();
        ObjectNode config = json.createObjectNode().put("architecture", "amd64").put("os", "linux");
        config.putObject("config");
        config.putObject("rootfs").put("type", "layers").putArray("diff_ids").add(digest(tar));
        byte[] configBytes = json.writeValueAsBytes(config);
        ObjectNode manifest = json.createObjectNode().put("schemaVersion", 2)
                .put("mediaType", "application/vnd.oci.image.manifest.v1+json");
        manifest.set("config", descriptor(json, "application/vnd.oci.image.config.v1+json", configBytes));
        manifest.putArray("layers").add(descriptor(json, "application/vnd.oci.image.layer.v1.tar+gzip", layer));
        byte[] manifestBytes = json.writeValueAsBytes(manifest);
        ObjectNode index = json.createObjectNode().put("schemaVersion", 2);
        ObjectNode m = descriptor(json, "application/vnd.oci.image.manifest.v1+json", manifestBytes);
        m.putObject("annotations").put("org.opencontainers.image.ref.name", "v1");
        index.putArray("manifests").add(m);

        Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
        for (byte[] b : List.of(layer, configBytes, manifestBytes)) {
            Files.write(blobs.resolve(digest(b).substring("sha256:".length())), b);
        }
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.write(dir.resolve("index.json"), json.writeValueAsBytes(index));
        return dir;
    }

    private static ObjectNode descriptor(ObjectMapper json, String mediaType, byte[] content) throws Exception {
        return json.createObjectNode().put("mediaType", mediaType).put("digest", digest(content))
                .put("size", content.length);
    }

    private static String digest(byte[] b) throws Exception {
        return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static Path writeTree(Path root, Map<String, byte[]> tree) throws IOException {
        for (Map.Entry<String, byte[]> e : tree.entrySet()) {
            Path f = root.resolve(e.getKey()).normalize();
            assertTrue(f.startsWith(root), "tree path escapes its root: " + e.getKey());
            Files.createDirectories(f.getParent());
            Files.write(f, e.getValue());
        }
        return root;
    }

    private static SSLContext trusting(CertificateAuthority ca) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", ca.certificate());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static String log(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
