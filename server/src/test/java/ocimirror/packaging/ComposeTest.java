package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/compose.yaml without Docker: the mirror's service builds docker/Dockerfile from the
 * repository root and mounts its data volume and config where the image's CMD looks; the
 * ca-export service's command, run here with its paths moved to temporary directories, writes
 * the CA to the folder it shares with the host (and with Prometheus); names, volumes, profiles
 * and dependencies all resolve.
 */
class ComposeTest {
    private static final Path DOCKER = DockerFolder.docker();
    private static final JsonNode COMPOSE = DockerFolder.yaml(DOCKER.resolve("compose.yaml"));
    private static final JsonNode SERVICES = COMPOSE.get("services");
    private static final Dockerfile DOCKERFILE = Dockerfile.read(DOCKER.resolve("Dockerfile"));

    @TempDir
    Path tmp;

    /** A short-syntax volume entry, {@code SOURCE:TARGET[:ro]}. */
    record Mount(String source, String target, boolean readOnly) {
        boolean isBind() {
            return source.startsWith(".") || source.startsWith("/");
        }

        static List<Mount> of(JsonNode service) {
            List<Mount> mounts = new ArrayList<>();
            for (JsonNode v : service.path("volumes")) {
                String[] parts = v.asText().split(":");
                assertTrue(parts.length == 2 || parts.length == 3, "volume " + v);
                mounts.add(new Mount(parts[0], parts[1], parts.length == 3 && parts[2].equals("ro")));
            }
            return mounts;
        }

        static Mount at(JsonNode service, String target) {
            return of(service).stream().filter(m -> m.target().equals(target)).findFirst()
                    .orElseThrow(() -> new AssertionError("nothing mounted at " + target + " in " + service));
        }
    }

    @Test
    void theMirrorIsBuiltFromTheRepositoryWithItsVolumeAndConfigWhereTheImageLooks() {
        JsonNode mirror = service("ocimirror");
        Path context = DOCKER.resolve(DockerFolder.at(mirror, "/build/context", "ocimirror").asText()).normalize();
        assertEquals(DockerFolder.root(), context, "the build context is the repository root");
        assertTrue(Files.isRegularFile(context.resolve(mirror.at("/build/dockerfile").asText())));
        assertTrue(Files.isRegularFile(context.resolve(".dockerignore")));

        List<String> cmd = DOCKERFILE.runtime().last("CMD").execForm();
        Mount data = Mount.at(mirror, DockerfileTest.after(cmd, "--data"));
        assertFalse(data.isBind(), "the data lives in a named volume");
        assertTrue(COMPOSE.path("volumes").has(data.source()), "volume " + data.source() + " is declared");
        Mount config = Mount.at(mirror, DockerfileTest.after(cmd, "--config"));
        assertEquals(DOCKER.resolve("config/config.yaml"), DOCKER.resolve(config.source()).normalize());
        assertTrue(config.readOnly());

        String port = DOCKERFILE.runtime().last("EXPOSE").arguments().trim();
        assertTrue(texts(mirror.path("ports")).contains(port + ":" + port), "port " + port + " published");
        assertTrue(mirror.has("mem_limit"), "a memory limit for the JVM to size itself from");
        assertEquals("unless-stopped", mirror.path("restart").asText());
        assertFalse(mirror.has("profiles"), "the mirror starts without a profile");
    }

    @Test
    void caExportWritesTheGeneratedCaToTheHostFolder() throws Exception {
        JsonNode mirror = service("ocimirror");
        JsonNode export = service("ca-export");
        assertEquals(mirror.path("image").asText(), export.path("image").asText(), "the mirror's own image");
        assertEquals("service_healthy", export.at("/depends_on/ocimirror/condition").asText(),
                "it waits for the HEALTHCHECK, by which time the CA exists");
        assertFalse(DOCKERFILE.runtime().all("HEALTHCHECK").isEmpty());

        List<String> command = texts(export.path("command"));
        assertEquals(List.of("ca", "export"), command.subList(0, 2));
        String data = DockerfileTest.after(command, "--data");
        String out = DockerfileTest.after(command, "-o");
        Mount dataMount = Mount.at(export, data);
        assertEquals(Mount.at(mirror, data).source(), dataMount.source(), "the mirror's data volume");
        assertTrue(dataMount.readOnly(), "read-only: it only reads the CA");
        Mount hostFolder = Mount.at(export, out);
        assertTrue(hostFolder.isBind() && !hostFolder.readOnly(), "the CA goes to a host folder: " + hostFolder);

        // The command itself, with the container's paths moved here.
        Path dataDir = tmp.resolve("data");
        Path ca = DockerFolder.generatedCa(dataDir);
        Path exportDir = tmp.resolve("export");
        List<String> args = new ArrayList<>(command);
        args.replaceAll(a -> a.equals(data) ? dataDir.toString() : a.equals(out) ? exportDir.toString() : a);
        DockerFolder.ocimirror(args).requireSuccess();
        assertArrayEquals(Files.readAllBytes(ca), Files.readAllBytes(exportDir.resolve("ca.crt")));
        DockerFolder.ocimirror(args).requireSuccess(); // --force: a re-run (a new volume, a new CA) replaces it
    }

    @Test
    void monitoringRunsUnderItsProfileWithTheExportedCaAndTheDashboard() throws Exception {
        for (String name : List.of("prometheus", "grafana")) {
            assertEquals(List.of("monitoring"), texts(service(name).path("profiles")), name + " is optional");
        }
        JsonNode prometheus = service("prometheus");
        assertEquals("service_completed_successfully", prometheus.at("/depends_on/ca-export/condition").asText());
        String exportFolder = Mount.at(service("ca-export"), DockerfileTest.after(texts(service("ca-export")
                .path("command")), "-o")).source();
        assertTrue(Mount.of(prometheus).stream().anyMatch(m -> m.source().equals(exportFolder) && m.readOnly()),
                "Prometheus gets the exported CA to scrape the mirror over HTTPS");
        Mount.at(prometheus, "/etc/prometheus/prometheus.yml");

        JsonNode grafana = service("grafana");
        Mount provisioning = Mount.at(grafana, "/etc/grafana/provisioning");
        Path provisioningDir = DOCKER.resolve(provisioning.source()).normalize();
        JsonNode provider = DockerFolder.yaml(provisioningDir.resolve("dashboards/ocimirror.yaml")).at("/providers/0");
        String dashboards = DockerFolder.at(provider, "/options/path", "dashboard provider").asText();
        assertTrue(Mount.of(grafana).stream().anyMatch(m -> m.target().startsWith(dashboards + "/")
                        && m.source().endsWith("ocimirror-dashboard.json")),
                "the dashboard is mounted where the provider looks: " + dashboards);
        JsonNode datasource = DockerFolder.yaml(provisioningDir.resolve("datasources/prometheus.yaml")).at("/datasources/0");
        assertEquals("http://prometheus:9090", datasource.path("url").asText());
        assertTrue(texts(prometheus.path("ports")).contains("9090:9090"));
    }

    @Test
    void everyNameResolves() {
        Map<String, JsonNode> services = new TreeMap<>();
        SERVICES.properties().forEach(e -> services.put(e.getKey(), e.getValue()));
        assertEquals(Set.of("ocimirror", "ca-export", "prometheus", "grafana", "postgres", "s3", "shared-ca",
                "ocimirror-a", "ocimirror-b"), services.keySet());
        for (Map.Entry<String, JsonNode> s : services.entrySet()) {
            JsonNode deps = s.getValue().path("depends_on");
            List<String> names = deps.isArray() ? texts(deps) : iterate(deps);
            names.forEach(d -> assertTrue(services.containsKey(d), s.getKey() + " depends on unknown " + d));
            for (Mount m : Mount.of(s.getValue())) {
                if (!m.isBind()) {
                    assertTrue(COMPOSE.path("volumes").has(m.source()), s.getKey() + ": volume " + m.source() + " declared");
                    continue;
                }
                boolean written = m.source().equals("./trust"); // ca-export's output, created by Docker
                assertTrue(written || Files.exists(DOCKER.resolve(m.source())),
                        s.getKey() + ": bind source " + m.source() + " exists under docker/");
            }
        }
    }

    private static JsonNode service(String name) {
        return DockerFolder.at(SERVICES, "/" + name, "compose.yaml services");
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static List<String> iterate(JsonNode object) {
        List<String> out = new ArrayList<>();
        object.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
