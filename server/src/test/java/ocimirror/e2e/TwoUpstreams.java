package ocimirror.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import ocimirror.config.CredentialSource;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import ocimirror.testing.TestPki;

/**
 * The two upstreams of the pull-through end-to-end tests, both Debian's docker-registry on
 * 127.0.0.1: <b>A</b> serves TLS with a certificate from its own test CA and wants Basic auth
 * (htpasswd); <b>B</b> is anonymous plain HTTP. Images are pushed into them with skopeo, and
 * {@link #mirrorConfig} builds the mirror's configuration for both: A's CA, and A's
 * credentials in a Docker {@code config.json} written here, as an operator would mount a
 * Kubernetes {@code dockerconfigjson} secret. The aliases clients use do not resolve, so a
 * pull by alias can only have been served by the mirror.
 */
final class TwoUpstreams implements AutoCloseable {

    static final String NAME_A = "upstream-a";
    static final String NAME_B = "upstream-b";
    static final String ALIAS_A = "registry-a.test";
    static final String ALIAS_B = "registry-b.test";
    static final String USER = "alice";
    static final String PASSWORD = "secret-a";
    /** The programs these tests need besides containerd. */
    static final String[] PROGRAMS = {"docker-registry", "skopeo", "htpasswd", "openssl"};

    final TestPki pki;
    final DockerRegistry a;
    final DockerRegistry b;
    final Skopeo skopeo;
    final Path dockerConfig;

    private TwoUpstreams(TestPki pki, DockerRegistry a, DockerRegistry b, Skopeo skopeo, Path dockerConfig) {
        this.pki = pki;
        this.a = a;
        this.b = b;
        this.skopeo = skopeo;
        this.dockerConfig = dockerConfig;
    }

    /** Skips (or fails in CI) unless every program is installed. */
    static void requirePrograms() {
        for (String p : PROGRAMS) {
            Programs.require(p);
        }
    }

    static TwoUpstreams start(Path dir) throws IOException, InterruptedException {
        TestPki pki = TestPki.create(dir.resolve("pki"));
        DockerRegistry a = DockerRegistry.builder(dir.resolve("upstream-a"))
                .tls(pki.server("upstream-a", "IP:127.0.0.1,DNS:localhost"))
                .htpasswd(USER, PASSWORD)
                .start();
        DockerRegistry b;
        try {
            b = DockerRegistry.start(dir.resolve("upstream-b"));
        } catch (RuntimeException | IOException | InterruptedException e) {
            a.close();
            throw e;
        }
        // What `docker login` writes: auths keyed by host:port, "auth" = base64(user:password).
        String auth = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
        Path dockerConfig = Files.writeString(dir.resolve("docker-config.json"),
                "{\"auths\":{\"" + a.hostPort() + "\":{\"auth\":\"" + auth + "\"}}}");
        return new TwoUpstreams(pki, a, b, new Skopeo(dir.resolve("skopeo")), dockerConfig);
    }

    /** {@code skopeo copy [--all] oci:LAYOUT:REF docker://A/repo:tag}, verifying A's certificate, with A's credentials. */
    void pushToA(Path layout, String ref, String repoAndTag, boolean all) throws IOException {
        List<String> options = new ArrayList<>(List.of("--preserve-digests", "--dest-cert-dir",
                pki.certDir().toString(), "--dest-creds", USER + ":" + PASSWORD));
        push(options, all, layout, ref, a, repoAndTag);
    }

    /** {@code skopeo copy [--all] oci:LAYOUT:REF docker://B/repo:tag} over plain HTTP, anonymously. */
    void pushToB(Path layout, String ref, String repoAndTag, boolean all) {
        push(new ArrayList<>(List.of("--preserve-digests", "--dest-tls-verify=false")), all, layout, ref, b,
                repoAndTag);
    }

    private void push(List<String> options, boolean all, Path layout, String ref, DockerRegistry to,
                      String repoAndTag) {
        if (all) {
            options.add("--all");
        }
        skopeo.copyWith(options, Skopeo.oci(layout, ref), "docker://" + to.hostPort() + "/" + repoAndTag)
                .requireSuccess();
    }

    /**
     * The mirror's configuration: plain HTTP on 127.0.0.1, a free port, {@code dataDir}, both
     * upstreams (A with its CA and the config.json credentials; B plain HTTP), {@code local} hosted.
     *
     * @param defaultUpstream {@link #NAME_A} or {@link #NAME_B}
     * @param tagTtlA         A's tag TTL (zero: every tag request revalidates upstream)
     */
    MirrorConfig mirrorConfig(Path dataDir, String defaultUpstream, Duration tagTtlA) {
        UpstreamConfig upA = UpstreamConfig.builder(NAME_A, a.url())
                .aliases(ALIAS_A)
                .isDefault(NAME_A.equals(defaultUpstream))
                .caCert(pki.caCert())
                .credentials(new CredentialSource.DockerConfig(dockerConfig))
                .tagTtl(tagTtlA)
                .build();
        UpstreamConfig upB = UpstreamConfig.builder(NAME_B, b.url())
                .aliases(ALIAS_B)
                .isDefault(NAME_B.equals(defaultUpstream))
                .plainHttp(true)
                .build();
        return MirrorConfig.defaults()
                .withTls(TlsConfig.off())
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(dataDir)
                .withRouting(List.of(upA, upB), List.of("local"));
    }

    /** Both upstreams down, as in an outage; their storage stays. */
    void stopBoth() {
        try {
            a.stop();
        } finally {
            b.stop();
        }
    }

    @Override
    public void close() {
        try {
            a.close();
        } finally {
            b.close();
        }
    }
}
