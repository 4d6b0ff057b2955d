package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import org.junit.jupiter.api.Test;

/**
 * Every configuration file under docker/ is read with a real parser (YAML, every document of a
 * multi-document file; JSON; TOML), and nothing else hides there unparsed. The image's
 * config.yaml is loaded as serve --config loads it.
 */
class DockerFilesParseTest {
    private static final Path DOCKER = DockerFolder.docker();
    /** Files that are not configuration: read by other tests (Dockerfile) or by people. */
    private static final Set<String> NOT_CONFIGURATION = Set.of("Dockerfile", "README.md");
    /** The Compose demo's PostgreSQL password, read as metadata.postgres.passwordFile by ComposeSharedProfileTest. */
    private static final Set<String> SECRETS = Set.of("postgres-password");

    @Test
    void everyYamlDocumentParsesIntoAnObject() {
        List<Path> files = DockerFolder.files(DOCKER, ".yaml", ".yml");
        for (String expected : List.of("compose.yaml", "config/config.yaml", "kubernetes/statefulset.yaml",
                "kubernetes/service.yaml", "kubernetes/node-config/daemonset.yaml", "config/shared.yaml",
                "kubernetes/shared/deployment.yaml", "kubernetes/shared/secrets.yaml", "examples/tkg/tkg-service-configuration.yaml",
                "examples/anthos/registry-mirrors.yaml", "grafana-provisioning/datasources/prometheus.yaml")) {
            assertTrue(files.contains(DOCKER.resolve(expected)), "found " + expected);
        }
        for (Path f : files) {
            List<JsonNode> docs = DockerFolder.yamlDocuments(f);
            assertFalse(docs.isEmpty(), f + " holds no YAML document");
            docs.forEach(d -> assertTrue(d.isObject() && !d.isEmpty(), f + ": a document is not a mapping: " + d));
        }
        assertEquals(2, DockerFolder.yamlDocuments(DOCKER.resolve("kubernetes/service.yaml")).size(),
                "both Services of the multi-document file are read");
        assertEquals(2, DockerFolder.yamlDocuments(DOCKER.resolve("kubernetes/shared/secrets.yaml")).size(),
                "both example Secrets are read");
    }

    @Test
    void everyJsonFileParses() {
        List<Path> files = DockerFolder.files(DOCKER, ".json");
        assertTrue(files.contains(DOCKER.resolve("examples/docker/daemon.json")), files.toString());
        for (Path f : files) {
            assertTrue(DockerFolder.json(f).isObject(), f + " is a JSON object");
        }
    }

    @Test
    void everyTomlFileParses() {
        List<Path> files = DockerFolder.files(DOCKER, ".toml", "registries.conf");
        assertEquals(12, files.size(), "containerd config.toml, 2 x 5 hosts.toml, registries.conf: " + files);
        for (Path f : files) {
            assertFalse(DockerFolder.toml(f).isEmpty(), f + " is empty");
        }
    }

    @Test
    void nothingUnderDockerIsLeftUnparsed() {
        for (Path f : DockerFolder.files(DOCKER, "")) {
            String name = f.getFileName().toString();
            boolean parsed = name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json")
                    || name.endsWith(".toml") || name.equals("registries.conf");
            assertTrue(parsed || NOT_CONFIGURATION.contains(name) || SECRETS.contains(name),
                    f + ": a file of a kind no test parses (add it to DockerFilesParseTest)");
        }
    }

    @Test
    void theImageConfigProxiesWhatTheEmbeddedConfigurationProxies() throws Exception {
        MirrorConfig image = DockerFolder.imageConfig();
        MirrorConfig embedded = MirrorConfig.embedded();
        assertEquals(DockerFolder.routing(embedded), DockerFolder.routing(image),
                "docker/config/config.yaml mirrors the public registries serve mirrors without a file");
        assertEquals(embedded.hosted(), image.hosted());
        assertEquals(TlsConfig.Mode.GENERATE, image.tls().mode(), "HTTPS with a CA generated in the data volume");
        assertTrue(image.tls().hostNames().contains("ocimirror"), "the compose service name is in the certificate");
    }
}
