package ocimirror.e2e;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.Programs;
import ocimirror.testing.SecuredUpstream;
import ocimirror.testing.Skopeo;

/**
 * The two upstreams of the pull-through end-to-end tests, both Debian's docker-registry on
 * 127.0.0.1: <b>A</b> a {@link SecuredUpstream} (TLS from its own test CA, Basic auth, and its
 * credentials in a Docker {@code config.json}); <b>B</b> is anonymous plain HTTP. Images are
 * pushed into them with skopeo, and {@link #mirrorConfig} builds the mirror's configuration for
 * both: A's CA and config.json. The aliases clients use do not resolve, so a pull by alias can
 * only have been served by the mirror.
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

    final SecuredUpstream securedA;
    final DockerRegistry a;
    final DockerRegistry b;
    final Skopeo skopeo;

    private TwoUpstreams(SecuredUpstream securedA, DockerRegistry b, Skopeo skopeo) {
        this.securedA = securedA;
        this.a = securedA.registry();
        this.b = b;
        this.skopeo = skopeo;
    }

    /** Skips (or fails in CI) unless every program is installed. */
    static void requirePrograms() {
        Programs.requireAll(PROGRAMS);
    }

    static TwoUpstreams start(Path dir) throws IOException, InterruptedException {
        SecuredUpstream a = SecuredUpstream.start(dir, NAME_A, USER, PASSWORD);
        DockerRegistry b;
        try {
            b = DockerRegistry.start(dir.resolve(NAME_B));
        } catch (RuntimeException | IOException | InterruptedException e) {
            a.close();
            throw e;
        }
        return new TwoUpstreams(a, b, new Skopeo(dir.resolve("skopeo")));
    }

    /** {@code skopeo copy [--all] oci:LAYOUT:REF docker://A/repo:tag}, verifying A's certificate, with A's credentials. */
    void pushToA(Path layout, String ref, String repoAndTag, boolean all) throws IOException {
        List<String> options = new ArrayList<>(List.of("--preserve-digests", "--dest-cert-dir",
                securedA.pki().certDir().toString(), "--dest-creds", securedA.creds()));
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
        UpstreamConfig upA = securedA.upstreamConfig(NAME_A)
                .aliases(ALIAS_A)
                .isDefault(NAME_A.equals(defaultUpstream))
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
            securedA.close();
        } finally {
            b.close();
        }
    }
}
