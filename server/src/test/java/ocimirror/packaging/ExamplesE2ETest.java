package ocimirror.packaging;

import static ocimirror.packaging.DockerFolder.EXAMPLE_MIRROR;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import ocimirror.config.CredentialSource;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
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
 * The client examples used for real. The mirror runs in this JVM with the image's
 * config.yaml (HTTPS with a generated CA), every upstream pointed at one local docker-registry
 * holding a random image. containerd reads the example config.toml (its config_path re-rooted
 * under a temporary directory) and reports that config_path back ({@code containerd config
 * dump}); a copy of the example certs.d, with the mirror's address in place of
 * mirror.example:5000 and the CA from {@code ca export}, is put there, and containerd pulls each
 * public registry's name through it, in both layouts ({@code ctr --hosts-dir}, the directory the
 * CRI plugin's config_path names; ctr does not read config_path itself). skopeo pulls each one
 * through the example registries.conf. The fallback servers are the real public registries,
 * which do not hold this image: a pull with the right digest came through the mirror.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ExamplesE2ETest {
    private static final String REPO = "ocimirror-e2e/packaging";
    private static final String TAG = "v1";
    private static final Path EXAMPLES = DockerFolder.docker().resolve("examples");

    @TempDir
    static Path tmp;
    private static MirrorStack stack;
    private static TinyImage image;
    private static String mirrorHostPort;
    private static Path data;
    private static Containerd containerd;
    private static List<String> registries;
    private final AtomicInteger namespaces = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        if (!Programs.present("docker-registry", "skopeo") && !Programs.inCi()) {
            return; // each test skips in requirePrograms()
        }
        DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"));
        stack = MirrorStack.over(upstream);
        image = TinyImage.write(tmp.resolve("layout"), TAG, 96 * 1024, System.nanoTime());
        upstream.push(image, REPO + ":" + TAG, null, null);

        MirrorConfig example = DockerFolder.imageConfig();
        List<UpstreamConfig> local = example.upstreams().stream().map(u -> new UpstreamConfig(u.name(),
                URI.create(upstream.url()), u.aliases(), u.isDefault(), null, new CredentialSource.None(), u.tagTtl(),
                true, u.timeouts(), u.maxRetries())).toList();
        registries = example.upstreams().stream().map(UpstreamConfig::name).toList();
        data = tmp.resolve("mirror-data");
        stack.start(example.withRouting(local, example.hosted())
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0)).withDataDir(data), tmp);
        mirrorHostPort = stack.hostPort();
        containerd = stack.containerd();
    }

    @AfterAll
    static void stop() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @BeforeEach
    void requirePrograms() {
        Programs.require("docker-registry");
        Programs.require("skopeo");
    }

    @Test
    void containerdReadsTheExampleConfigPath() throws Exception {
        Path containerdBin = Programs.require("containerd");
        String example = Files.readString(EXAMPLES.resolve("containerd/config.toml"));
        String configPath = DockerFolder.at(DockerFolder.TOML.readTree(example),
                "/plugins/io.containerd.grpc.v1.cri/registry/config_path", "config.toml").asText();
        Path rerooted = reroot(configPath);
        Path config = Files.writeString(tmp.resolve("config-path-check.toml"),
                example.replace("\"" + configPath + "\"", "\"" + rerooted + "\""));
        Processes.Result dump = new Processes(tmp.resolve("dump-logs")).run(List.of(containerdBin.toString(),
                "--config", config.toString(), "config", "dump"), Map.of(), Duration.ofSeconds(30)).requireSuccess();
        JsonNode effective = DockerFolder.TOML.readTree(dump.stdout());
        assertEquals(rerooted.toString(), effective.at("/plugins/io.containerd.grpc.v1.cri/registry/config_path").asText(),
                "containerd takes config_path from the example's table:\n" + dump.stdout());
    }

    @Test
    void containerdPullsEveryRegistryThroughTheMirrorLayoutExample() throws Exception {
        pullEveryRegistryWith(EXAMPLES.resolve("containerd/certs.d"), "mirror");
    }

    @Test
    void containerdPullsEveryRegistryThroughTheOverridePathExample() throws Exception {
        pullEveryRegistryWith(EXAMPLES.resolve("containerd/override-path/certs.d"), "override");
    }

    @Test
    void skopeoPullsEveryRegistryThroughTheRegistriesConfExample() throws Exception {
        Path conf = Files.writeString(tmp.resolve("registries.conf"),
                Files.readString(EXAMPLES.resolve("containers/registries.conf")).replace(EXAMPLE_MIRROR, mirrorHostPort));
        // What the example says to run for /etc/containers: the docker export's certs.d/<mirror>.
        Path etc = tmp.resolve("etc-containers");
        DockerFolder.ocimirror("ca", "export", "--format", "docker", "--mirror", mirrorHostPort, "--data",
                data.toString(), "-o", etc.toString()).requireSuccess();
        Path certDir = etc.resolve("certs.d").resolve(mirrorHostPort);
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        for (String registry : registries) {
            Path out = tmp.resolve("skopeo-" + registry);
            skopeo.run(conf, List.of("copy", "--retry-times", "0", "--src-cert-dir", certDir.toString(),
                    "docker://" + registry + "/" + REPO + ":" + TAG, Skopeo.oci(out, TAG))).requireSuccess();
            assertArrayEquals(image.layer(), Files.readAllBytes(out.resolve("blobs/sha256/" + image.layerDigest().hex())),
                    registry + ": the layer came through the mirror");
        }
    }

    /**
     * Copies {@code certsD} to the re-rooted config_path with the mirror's address, adds the CA
     * with {@code ca export}, and pulls {@code <registry>/REPO:TAG} for every registry.
     */
    private void pullEveryRegistryWith(Path certsD, String name) throws Exception {
        Programs.require("containerd");
        Programs.requireRoot("containerd");
        Path hostsDir = reroot("/" + name + "/etc/containerd/certs.d");
        try (Stream<Path> dirs = Files.list(certsD)) {
            for (Path dir : dirs.toList()) {
                Path copy = Files.createDirectories(hostsDir.resolve(dir.getFileName()));
                Files.writeString(copy.resolve("hosts.toml"),
                        Files.readString(dir.resolve("hosts.toml")).replace(EXAMPLE_MIRROR, mirrorHostPort));
                DockerFolder.ocimirror("ca", "export", "--format", "pem", "--data", data.toString(), "-o",
                        copy.toString()).requireSuccess();
            }
        }
        for (String registry : registries) {
            String ns = "examples-" + name + "-" + namespaces.incrementAndGet();
            String ref = registry + "/" + REPO + ":" + TAG;
            Processes.Result pull = containerd.pullWithHosts(hostsDir, ns, ref);
            assertEquals(0, pull.exitCode(), () -> ref + " with " + certsD + ":\n" + pull.stderr() + "\n" + containerd.log());
            assertEquals(image.manifestDigest().toString(), containerd.imageTarget(ns, ref).orElseThrow(), ref);
            assertTrue(containerd.contentDigests(ns).contains(image.layerDigest().toString()), ref + ": the layer");
        }
    }

    /** {@code /etc/containerd/certs.d} and the like, under this test's temporary directory. */
    private static Path reroot(String absolute) throws IOException {
        return Files.createDirectories(tmp.resolve("root").resolve(absolute.substring(1)));
    }
}
