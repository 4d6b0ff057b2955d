package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.AuthConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.testing.Containerd;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.MirrorStack;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.SecuredUpstream;
import ocimirror.testing.Skopeo;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client authentication on the HTTPS mirror, with an htpasswd file from the real
 * {@code htpasswd -B}: a pull-only user and a pushing user. containerd pulls through with
 * {@code ctr --user} and is refused without; skopeo pushes and pulls with {@code --creds}, is
 * refused without, and the pull-only user cannot push. The upstream has its own htpasswd and the
 * mirror its own credentials for it (a Docker config.json): the upstream's log shows the mirror's
 * user and never a client's.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClientAuthE2ETest {
    private static final String ALIAS = "registry-u.test";
    private static final String REPO = "team/app";
    private static final String UPSTREAM_USER = "mirror-robot";
    private static final String UPSTREAM_PASSWORD = "robot-pw";
    private static final String PULLER = "node-reader";
    private static final String PULLER_PASSWORD = "reader-pw";
    private static final String PUSHER = "ci-writer";
    private static final String PUSHER_PASSWORD = "writer-pw";
    private static final String[] PROGRAMS = {"docker-registry", "skopeo", "htpasswd", "openssl"};

    @TempDir
    static Path tmp;
    private static MirrorStack stack;
    private static SecuredUpstream upstream;
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
        upstream = SecuredUpstream.start(tmp.resolve("upstream"), "upstream", UPSTREAM_USER, UPSTREAM_PASSWORD);
        stack = MirrorStack.over(upstream);
        image = TinyImage.write(tmp.resolve("layout"), "v1", 128 * 1024, 43);
        upstream.registry().push(image, REPO + ":v1", upstream.pki().certDir(), upstream.creds());

        Path htpasswd = tmp.resolve("htpasswd");
        Programs.run("htpasswd", "-B", "-b", "-c", htpasswd.toString(), PULLER, PULLER_PASSWORD);
        Programs.run("htpasswd", "-B", "-b", htpasswd.toString(), PUSHER, PUSHER_PASSWORD);
        data = tmp.resolve("mirror-data");
        MirrorConfig config = MirrorConfig.defaults()
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(data)
                .withRouting(List.of(upstream.upstreamConfig("upstream-u").aliases(ALIAS).build()), List.of("local"))
                .withAuth(new AuthConfig(htpasswd, "ocimirror-e2e", Map.of(PUSHER, AuthConfig.Access.PUSH), null));
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
    void ctrPullsThroughWithUserAndIsRefusedWithout() throws Exception {
        Programs.require("containerd");
        Programs.requireRoot("containerd");
        Path hostsDir = CaExport.containerd(tmp.resolve("export-containerd"), ALIAS, mirrorHostPort,
                "--data", data.toString());
        String ref = ALIAS + "/" + REPO + ":v1";

        Processes.Result anonymous = containerd.pullWithHosts(hostsDir, namespace(), ref);
        assertNotEquals(0, anonymous.exitCode(), "a pull without credentials must fail");
        assertTrue(anonymous.stderr().contains("401 Unauthorized"), anonymous.stderr());

        String ns = namespace();
        containerd.pullWithHosts(hostsDir, ns, ref, "--user", PULLER + ":" + PULLER_PASSWORD).requireSuccess();
        assertEquals(image.manifestDigest().toString(), containerd.imageTarget(ns, ref).orElseThrow());
        assertTrue(containerd.contentDigests(ns).contains(image.layerDigest().toString()));
    }

    @Test
    void skopeoPushesAndPullsWithCredsAndAPullOnlyUserCannotPush() throws Exception {
        Path certDir = CaExport.docker(tmp.resolve("export-docker"), mirrorHostPort, "--data", data.toString());
        String hosted = Skopeo.docker(mirrorHostPort, "local/app", "v1");

        Processes.Result anonymous = skopeo.copyWith(List.of("--dest-cert-dir", certDir.toString()),
                image.source(), hosted);
        assertNotEquals(0, anonymous.exitCode(), "a push without credentials must fail");
        assertTrue(anonymous.stderr().contains("authentication required"), anonymous.stderr());
        Processes.Result puller = skopeo.copyWith(List.of("--dest-cert-dir", certDir.toString(), "--dest-creds",
                PULLER + ":" + PULLER_PASSWORD), image.source(), hosted);
        assertNotEquals(0, puller.exitCode(), "a pull-only user must not push");
        assertTrue(puller.stderr().contains("denied"), puller.stderr());

        skopeo.copyWith(List.of("--preserve-digests", "--dest-cert-dir", certDir.toString(), "--dest-creds",
                PUSHER + ":" + PUSHER_PASSWORD), image.source(), hosted).requireSuccess();
        Path back = tmp.resolve("pulled-back");
        skopeo.copyWith(List.of("--src-cert-dir", certDir.toString(), "--src-creds", PULLER + ":" + PULLER_PASSWORD),
                hosted, Skopeo.oci(back, "v1")).requireSuccess();
        assertArrayEquals(image.layer(), Files.readAllBytes(back.resolve("blobs/sha256/" + image.layerDigest().hex())));

        Processes.Result inspect = skopeo.run(List.of("inspect", "--raw", "--cert-dir", certDir.toString(), hosted));
        assertNotEquals(0, inspect.exitCode(), "a pull without credentials must fail");
        assertTrue(inspect.stderr().contains("authentication required"), inspect.stderr());
    }

    @Test
    void clientCredentialsNeverReachTheUpstream() throws Exception {
        Path certDir = CaExport.docker(tmp.resolve("export-upstream-check"), mirrorHostPort, "--data", data.toString());
        String proxied = Skopeo.docker(mirrorHostPort, ALIAS + "/" + REPO, "v1");
        Path out = tmp.resolve("proxied-copy");
        skopeo.copyWith(List.of("--src-cert-dir", certDir.toString(), "--src-creds", PULLER + ":" + PULLER_PASSWORD),
                proxied, Skopeo.oci(out, "v1")).requireSuccess();
        assertArrayEquals(image.manifest(), Files.readAllBytes(out.resolve("blobs/sha256/"
                + image.manifestDigest().hex())));

        DockerRegistry registry = upstream.registry();
        String log = String.join("\n", registry.log());
        assertTrue(registry.requests("GET", "/v2/" + REPO + "/manifests/v1") > 0, "the mirror went upstream:\n" + log);
        assertTrue(log.contains("auth.user.name=" + UPSTREAM_USER), "the upstream logs who it served:\n" + log);
        String basic = SecuredUpstream.base64(PULLER + ":" + PULLER_PASSWORD);
        for (String secret : List.of(PULLER, PUSHER, PULLER_PASSWORD, basic)) {
            assertFalse(log.contains(secret), "a client's credentials reached the upstream (" + secret + ")");
        }
    }

    private String namespace() {
        return "auth-" + namespaces.incrementAndGet();
    }
}
