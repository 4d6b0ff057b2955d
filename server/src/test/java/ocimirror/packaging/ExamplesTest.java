package ocimirror.packaging;

import static ocimirror.packaging.DockerFolder.EXAMPLE_MIRROR;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/examples cannot drift from the program: the containerd mirror layout is byte for byte
 * what {@code ocimirror ca export --format containerd} writes, the override_path layout is that
 * with the host's path and {@code override_path}, the TkgServiceConfiguration is what
 * {@code --format tkg} prints less the CA, the CA paths the other examples name are where the
 * {@code docker} and {@code pem} exports put them; and every registry host an example sends to
 * the mirror is routed by the mirror's router, with the image's configuration, to that upstream.
 */
class ExamplesTest {
    private static final Path EXAMPLES = DockerFolder.docker().resolve("examples");
    private static final Path CERTS_D = EXAMPLES.resolve("containerd/certs.d");
    private static final Path OVERRIDE_CERTS_D = EXAMPLES.resolve("containerd/override-path/certs.d");

    @TempDir
    Path tmp;
    private Path ca;
    private MirrorConfig config;
    private UpstreamRouter router;

    @BeforeEach
    void setUp() throws Exception {
        ca = DockerFolder.generatedCa(tmp.resolve("data"));
        config = DockerFolder.imageConfig();
        router = new UpstreamRouter(config.upstreams(), config.hosted());
    }

    @Test
    void containerdMirrorLayoutIsByteForByteWhatCaExportWrites() throws Exception {
        assertEquals(upstreamNames(), directories(CERTS_D), "one host directory per upstream of the image's config");
        for (String host : directories(CERTS_D)) {
            Path out = export(host);
            assertArrayEquals(Files.readAllBytes(out.resolve(host).resolve("hosts.toml")),
                    Files.readAllBytes(CERTS_D.resolve(host).resolve("hosts.toml")),
                    "docker/examples/containerd/certs.d/" + host + "/hosts.toml is what ca export writes");
            assertArrayEquals(Files.readAllBytes(ca), Files.readAllBytes(out.resolve(host).resolve("ca.crt")));
            assertFalse(Files.exists(CERTS_D.resolve(host).resolve("ca.crt")), "no CA in the examples: each mirror has its own");
            RepoTarget t = router.resolve(RepoName.of("team/app"), host); // what containerd sends: ?ns=<host>
            assertTrue(t instanceof RepoTarget.Proxied p && p.upstream().selectors().contains(host)
                    && p.upstreamRepo().value().equals("team/app"), host + ": " + t);
        }
    }

    @Test
    void overridePathLayoutIsTheExportWithTheHostsPath() throws Exception {
        assertEquals(upstreamNames(), directories(OVERRIDE_CERTS_D));
        for (String host : directories(OVERRIDE_CERTS_D)) {
            ObjectNode expected = (ObjectNode) DockerFolder.toml(export(host).resolve(host).resolve("hosts.toml"));
            ObjectNode hosts = (ObjectNode) expected.get("host");
            String mirrorUrl = "https://" + EXAMPLE_MIRROR;
            ObjectNode entry = (ObjectNode) hosts.remove(mirrorUrl);
            entry.put("override_path", true);
            hosts.set(mirrorUrl + "/v2/" + host, entry);
            assertEquals(expected, DockerFolder.toml(OVERRIDE_CERTS_D.resolve(host).resolve("hosts.toml")),
                    "override-path/certs.d/" + host + "/hosts.toml");
            // containerd sends /v2/<host>/team/app/... with ?ns=<host>: the prefix is dropped.
            RepoTarget t = router.resolve(RepoName.of(host + "/team/app"), host);
            assertTrue(t instanceof RepoTarget.Proxied p && p.upstream().selectors().contains(host)
                    && p.upstreamRepo().value().equals("team/app"), host + ": " + t);
        }
    }

    @Test
    void containerdConfigPointsTheCriPluginWhereTheExportAndTheNodeDaemonSetWrite() {
        JsonNode toml = DockerFolder.toml(EXAMPLES.resolve("containerd/config.toml"));
        assertEquals(2, toml.path("version").asInt());
        String configPath = DockerFolder.at(toml, "/plugins/io.containerd.grpc.v1.cri/registry/config_path",
                "containerd/config.toml").asText();
        JsonNode pod = KubernetesManifestsTest.podSpec("DaemonSet", "ocimirror-node-config");
        String hostDir = pod.at("/volumes").findValue("hostPath").path("path").asText();
        assertEquals(hostDir + "/certs.d", configPath, "ca export -o " + hostDir + " writes certs.d/ there");
    }

    @Test
    void dockerRegistryMirrorsGoToTheDefaultUpstreamDockerHub() throws Exception {
        JsonNode daemon = DockerFolder.json(EXAMPLES.resolve("docker/daemon.json"));
        assertEquals(List.of("https://" + EXAMPLE_MIRROR), texts(daemon.path("registry-mirrors")));
        // dockerd sends Docker Hub names without a host: /v2/library/nginx/..., no ns.
        RepoTarget t = router.resolve(RepoName.of("library/nginx"), null);
        assertTrue(t instanceof RepoTarget.Proxied p && p.upstream().implicitLibraryPrefix(), "Docker Hub: " + t);
        DockerFolder.ocimirror("ca", "export", "--format", "docker", "--mirror", EXAMPLE_MIRROR, "--ca-file",
                ca.toString(), "-o", tmp.resolve("etc-docker").toString()).requireSuccess();
        assertTrue(Files.isRegularFile(tmp.resolve("etc-docker/certs.d/" + EXAMPLE_MIRROR + "/ca.crt")),
                "dockerd trusts /etc/docker/certs.d/" + EXAMPLE_MIRROR + "/ca.crt, which the docker export writes");
    }

    @Test
    void registriesConfMirrorsEveryUpstreamByPathPrefix() {
        JsonNode conf = DockerFolder.toml(EXAMPLES.resolve("containers/registries.conf"));
        TreeSet<String> prefixes = new TreeSet<>();
        for (JsonNode registry : conf.path("registry")) {
            String prefix = registry.path("prefix").asText();
            prefixes.add(prefix);
            assertEquals(prefix, registry.path("location").asText(), "the registry itself stays the fallback");
            assertEquals(1, registry.path("mirror").size(), prefix);
            String mirror = registry.at("/mirror/0/location").asText();
            assertEquals(EXAMPLE_MIRROR + "/" + prefix, mirror, prefix);
            assertFalse(registry.at("/mirror/0/insecure").asBoolean(), "the mirror speaks HTTPS");
            // Podman asks the mirror for <prefix>/library/busybox: a path-prefix route, no ns.
            RepoTarget t = router.resolve(RepoName.of(prefix + "/library/busybox"), null);
            assertTrue(t instanceof RepoTarget.Proxied p && p.upstream().selectors().contains(prefix)
                    && p.upstreamRepo().value().equals("library/busybox"), prefix + ": " + t);
        }
        assertEquals(upstreamNames(), prefixes);
    }

    @Test
    void tkgServiceConfigurationIsWhatCaExportPrintsLessTheCa() throws Exception {
        DockerFolder.Run run = DockerFolder.ocimirror("ca", "export", "--format", "tkg", "--mirror", EXAMPLE_MIRROR,
                "--ca-file", ca.toString()).requireSuccess();
        ObjectNode exported = (ObjectNode) DockerFolder.YAML.readTree(run.out());
        JsonNode example = DockerFolder.yaml(EXAMPLES.resolve("tkg/tkg-service-configuration.yaml"));
        ObjectNode exportedEntry = (ObjectNode) exported.at("/spec/trust/additionalTrustedCAs/0");
        assertEquals(Files.readString(ca), new String(Base64.getDecoder().decode(exportedEntry.path("data").asText()),
                StandardCharsets.US_ASCII), "the export's data is the base64 of the CA's PEM");
        String placeholder = example.at("/spec/trust/additionalTrustedCAs/0/data").asText();
        assertTrue(placeholder.startsWith("BASE64-OF"), "the example holds no CA: " + placeholder);
        exportedEntry.put("data", placeholder);
        assertEquals(exported, example, "tkg-service-configuration.yaml is the tkg export less the CA");
    }

    @Test
    void anthosRegistryMirrorsSendEveryUpstreamToOneEndpoint() throws Exception {
        JsonNode mirrors = DockerFolder.yaml(EXAMPLES.resolve("anthos/registry-mirrors.yaml")).path("registryMirrors");
        assertEquals(1, mirrors.size());
        JsonNode m = mirrors.get(0);
        assertEquals("https://" + EXAMPLE_MIRROR, m.path("endpoint").asText());
        assertFalse(m.path("pullCredentialConfigPath").asText().isEmpty());
        Path caCertPath = Path.of(DockerFolder.at(m, "/caCertPath", "registryMirrors[0]").asText());
        Path out = tmp.resolve("anthos");
        DockerFolder.ocimirror("ca", "export", "--format", "pem", "--ca-file", ca.toString(), "-o", out.toString())
                .requireSuccess();
        assertTrue(Files.isRegularFile(out.resolve(caCertPath.getFileName())), "the pem export writes " + caCertPath.getFileName());
        TreeSet<String> hosts = new TreeSet<>(texts(m.path("hosts")));
        for (String host : hosts) {
            RepoTarget t = router.resolve(RepoName.of("team/app"), host);
            assertTrue(t instanceof RepoTarget.Proxied p && p.upstream().selectors().contains(host), host + ": " + t);
        }
        assertEquals(upstreamNames(), hosts);
    }

    /** {@code ca export --format containerd --host HOST --mirror mirror.example:5000 -o DIR}: DIR/certs.d. */
    private Path export(String host) {
        Path dir = tmp.resolve("export-" + host);
        DockerFolder.ocimirror("ca", "export", "--format", "containerd", "--host", host, "--mirror", EXAMPLE_MIRROR,
                "--ca-file", ca.toString(), "-o", dir.toString()).requireSuccess();
        return dir.resolve("certs.d");
    }

    private TreeSet<String> upstreamNames() {
        return new TreeSet<>(config.upstreams().stream().map(UpstreamConfig::name).toList());
    }

    static TreeSet<String> directories(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return new TreeSet<>(s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).toList());
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
