package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/kubernetes without a cluster: every object is named and in the ocimirror namespace; the
 * StatefulSet runs the image's CMD with the ConfigMap and its volume mounted where CMD looks,
 * probes /readyz and /healthz over HTTPS on the port the config listens on, and asks for
 * resources; the Services select its pods; the ConfigMap's config loads, with the example
 * Secret's credentials read by the mirror's own reader; the node DaemonSet's address is one the
 * certificate covers, on the Service's node port, for registries the mirror routes.
 */
class KubernetesManifestsTest {
    private static final Path K8S = DockerFolder.docker().resolve("kubernetes");
    private static final String NAMESPACE = "ocimirror";
    private static final Dockerfile DOCKERFILE = Dockerfile.read(DockerFolder.docker().resolve("Dockerfile"));

    @TempDir
    Path tmp;

    @Test
    void everyObjectIsNamedAndInTheNamespace() {
        Set<String> seen = new HashSet<>();
        for (JsonNode o : objects()) {
            String id = o.path("kind").asText() + "/" + o.at("/metadata/name").asText();
            assertFalse(o.path("apiVersion").asText().isEmpty(), id + " has an apiVersion");
            assertFalse(o.at("/metadata/name").asText().isEmpty(), o + " has a name");
            assertTrue(seen.add(id), "one " + id);
            if (!o.path("kind").asText().equals("Namespace")) {
                assertEquals(NAMESPACE, o.at("/metadata/namespace").asText(), id + " is in " + NAMESPACE);
            }
        }
        assertTrue(seen.contains("Namespace/" + NAMESPACE));
    }

    @Test
    void kustomizationAppliesEveryManifestButTheSecretAndTheNodeConfiguration() throws Exception {
        JsonNode k = DockerFolder.yaml(K8S.resolve("kustomization.yaml"));
        Set<String> resources = new TreeSet<>();
        k.path("resources").forEach(r -> resources.add(r.asText()));
        Set<String> manifests = new TreeSet<>();
        try (var files = Files.list(K8S)) {
            files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).forEach(manifests::add);
        }
        manifests.removeAll(Set.of("kustomization.yaml", "upstream-credentials.yaml"));
        assertEquals(manifests, resources, "kustomization.yaml lists every manifest (the Secret is made by hand)");
        String image = k.at("/images/0/name").asText();
        assertEquals(image, container(podSpec("StatefulSet", "ocimirror"), "containers", "ocimirror").path("image").asText());
        assertEquals(image, container(podSpec("DaemonSet", "ocimirror-node-config"), "initContainers",
                "write-containerd-hosts").path("image").asText(), "the node configuration runs the mirror's image");
    }

    @Test
    void theStatefulSetRunsTheImagesCommandOnItsVolumeWithHttpsProbes() throws Exception {
        JsonNode sts = object("StatefulSet", "ocimirror");
        JsonNode pod = podSpec("StatefulSet", "ocimirror");
        JsonNode c = container(pod, "containers", "ocimirror");
        List<String> cmd = DOCKERFILE.runtime().last("CMD").execForm();
        assertEquals(cmd, texts(c.path("args")), "the image's CMD");

        Set<String> volumes = new HashSet<>();
        pod.path("volumes").forEach(v -> volumes.add(v.path("name").asText()));
        sts.at("/spec/volumeClaimTemplates").forEach(t -> volumes.add(t.at("/metadata/name").asText()));
        c.path("volumeMounts").forEach(m -> assertTrue(volumes.contains(m.path("name").asText()), "volume " + m));
        assertEquals("data", mountAt(c, DockerfileTest.after(cmd, "--data")).path("name").asText(),
                "the data directory is the claimed volume");
        assertEquals("ReadWriteOnce", sts.at("/spec/volumeClaimTemplates/0/spec/accessModes/0").asText());
        Path configFile = Path.of(DockerfileTest.after(cmd, "--config"));
        JsonNode configVolume = volume(pod, mountAt(c, configFile.getParent().toString()).path("name").asText());
        String configMap = configVolume.at("/configMap/name").asText();
        assertTrue(object("ConfigMap", configMap).path("data").has(configFile.getFileName().toString()),
                "ConfigMap " + configMap + " holds " + configFile.getFileName());
        assertFalse(mountAt(c, "/tmp").isMissingNode(), "a writable /tmp under the read-only root (native libraries)");

        int port = configMapConfig(tmp).listen().port();
        JsonNode containerPort = c.at("/ports/0");
        assertEquals(port, containerPort.path("containerPort").asInt());
        assertEquals(DOCKERFILE.runtime().last("EXPOSE").arguments().trim(), String.valueOf(port));
        String portName = containerPort.path("name").asText();
        for (String[] probe : new String[][] {{"readinessProbe", "/readyz"}, {"livenessProbe", "/healthz"},
                {"startupProbe", "/healthz"}}) {
            JsonNode get = DockerFolder.at(c, "/" + probe[0] + "/httpGet", "container ocimirror");
            assertEquals(probe[1], get.path("path").asText(), probe[0]);
            assertEquals("HTTPS", get.path("scheme").asText(), probe[0] + " speaks TLS, as the mirror does");
            assertEquals(portName, get.path("port").asText(), probe[0]);
        }
        for (String r : List.of("/resources/requests/cpu", "/resources/requests/memory", "/resources/limits/memory")) {
            DockerFolder.at(c, r, "container ocimirror");
        }

        String[] user = DOCKERFILE.runtime().last("USER").arguments().trim().split(":");
        assertEquals(Integer.parseInt(user[0]), pod.at("/securityContext/runAsUser").asInt(), "the image's user");
        assertEquals(Integer.parseInt(user[1]), pod.at("/securityContext/fsGroup").asInt(), "owns the volume");
        assertTrue(pod.at("/securityContext/runAsNonRoot").asBoolean());

        String governing = sts.at("/spec/serviceName").asText();
        assertEquals("None", object("Service", governing).at("/spec/clusterIP").asText(), "headless");
        sts.at("/spec/selector/matchLabels").properties().forEach(l -> assertEquals(l.getValue(),
                sts.at("/spec/template/metadata/labels").path(l.getKey()), "the selector matches the pod"));
    }

    @Test
    void theServicesSelectThePodsAndTheirPort() {
        JsonNode pod = object("StatefulSet", "ocimirror").at("/spec/template");
        Set<String> portNames = new HashSet<>();
        pod.at("/spec/containers/0/ports").forEach(p -> portNames.add(p.path("name").asText()));
        for (JsonNode svc : objects()) {
            if (!svc.path("kind").asText().equals("Service")) {
                continue;
            }
            String name = svc.at("/metadata/name").asText();
            svc.at("/spec/selector").properties().forEach(l -> assertEquals(l.getValue(),
                    pod.at("/metadata/labels").path(l.getKey()), name + " selects the mirror's pods"));
            for (JsonNode p : svc.at("/spec/ports")) {
                assertTrue(portNames.contains(p.path("targetPort").asText()), name + " targets a container port");
            }
        }
        int nodePort = object("Service", "ocimirror").at("/spec/ports/0/nodePort").asInt();
        assertTrue(nodePort >= 30000 && nodePort <= 32767, "a node port in the default range: " + nodePort);
    }

    @Test
    void theConfigMapLoadsWithTheExampleSecretsCredentials() throws Exception {
        MirrorConfig config = configMapConfig(tmp);
        assertEquals(DockerFolder.routing(DockerFolder.imageConfig()), DockerFolder.routing(config),
                "the ConfigMap proxies what the image's config.yaml proxies");
        UpstreamConfig hub = config.upstreams().stream().filter(UpstreamConfig::isDefault).findFirst().orElseThrow();
        RegistryCredentials creds = RegistryCredentials.forUpstream(hub).orElseThrow();
        assertEquals("USER", creds.username());
        assertEquals("TOKEN", creds.password());
        for (String name : List.of("ocimirror." + NAMESPACE + ".svc", "mirror.example")) {
            assertTrue(config.tls().hostNames().contains(name), "the certificate covers " + name);
        }
    }

    @Test
    void theNodeConfigurationPointsNodesAtTheNodePortForRoutedRegistries() throws Exception {
        JsonNode pod = podSpec("DaemonSet", "ocimirror-node-config");
        JsonNode init = container(pod, "initContainers", "write-containerd-hosts");
        MirrorConfig config = configMapConfig(tmp);
        String[] mirror = env(init, "MIRROR").split(":");
        assertTrue(config.tls().hostNames().contains(mirror[0]), "the mirror's certificate covers " + mirror[0]);
        assertEquals(object("Service", "ocimirror").at("/spec/ports/0/nodePort").asText(), mirror[1],
                "nodes use the Service's node port");
        UpstreamRouter router = new UpstreamRouter(config.upstreams(), config.hosted());
        for (String registry : env(init, "REGISTRIES").split("\\s+")) {
            RepoTarget t = router.resolve(RepoName.of("team/app"), registry);
            assertTrue(t instanceof RepoTarget.Proxied p && p.upstream().selectors().contains(registry),
                    "a request with ns=" + registry + " is proxied: " + t);
        }
        String containerdDir = env(init, "CONTAINERD_DIR");
        assertEquals("/etc/containerd", volume(pod, mountAt(init, containerdDir).path("name").asText())
                .at("/hostPath/path").asText(), "writes into the node's /etc/containerd");
        Path caFile = Path.of(env(init, "CA_FILE"));
        assertEquals("ocimirror-ca", volume(pod, mountAt(init, caFile.getParent().toString()).path("name").asText())
                .at("/configMap/name").asText());
        assertEquals("Exists", pod.at("/tolerations/0/operator").asText(), "every node, tainted ones too");
    }

    /** The ConfigMap's config.yaml, loaded with its credentials file replaced by the example Secret's content. */
    static MirrorConfig configMapConfig(Path tmp) throws Exception {
        String text = object("ConfigMap", "ocimirror-config").at("/data/config.yaml").asText();
        JsonNode secret = DockerFolder.yaml(K8S.resolve("upstream-credentials.yaml"));
        assertEquals("kubernetes.io/dockerconfigjson", secret.path("type").asText());
        JsonNode pod = podSpec("StatefulSet", "ocimirror");
        JsonNode secretVolume = null;
        for (JsonNode v : pod.path("volumes")) {
            if (v.at("/secret/secretName").asText().equals(secret.at("/metadata/name").asText())) {
                secretVolume = v;
            }
        }
        assertTrue(secretVolume != null, "the StatefulSet mounts the Secret");
        String mountPath = null;
        for (JsonNode m : container(pod, "containers", "ocimirror").path("volumeMounts")) {
            if (m.path("name").asText().equals(secretVolume.path("name").asText())) {
                mountPath = m.path("mountPath").asText();
            }
        }
        String inPod = mountPath + "/.dockerconfigjson";
        assertTrue(text.contains("dockerConfig: " + inPod), "the config reads the Secret where it is mounted: " + inPod);
        Path file = Files.createDirectories(tmp.resolve("secret")).resolve(".dockerconfigjson");
        Files.write(file, Base64.getDecoder().decode(secret.at("/data/.dockerconfigjson").asText()));
        return ConfigLoader.parse(text.replace(inPod, file.toString()), "ConfigMap ocimirror-config", false, tmp);
    }

    static List<JsonNode> objects() {
        List<JsonNode> all = new ArrayList<>();
        for (Path f : DockerFolder.files(K8S, ".yaml")) {
            // shared/ is a kit of its own (SharedKubernetesTest), with copies of the Namespace and Service
            if (!f.getFileName().toString().equals("kustomization.yaml") && !f.startsWith(K8S.resolve("shared"))) {
                all.addAll(DockerFolder.yamlDocuments(f));
            }
        }
        return all;
    }

    static JsonNode object(String kind, String name) {
        return objects().stream().filter(o -> o.path("kind").asText().equals(kind)
                        && o.at("/metadata/name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name + " under docker/kubernetes"));
    }

    static JsonNode podSpec(String kind, String name) {
        return DockerFolder.at(object(kind, name), "/spec/template/spec", kind + " " + name);
    }

    static JsonNode container(JsonNode podSpec, String list, String name) {
        for (JsonNode c : podSpec.path(list)) {
            if (c.path("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no " + list + " " + name);
    }

    static String env(JsonNode container, String name) {
        for (JsonNode e : container.path("env")) {
            if (e.path("name").asText().equals(name)) {
                return e.path("value").asText();
            }
        }
        throw new AssertionError("no env " + name + " in " + container.path("name"));
    }

    static JsonNode mountAt(JsonNode container, String path) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("mountPath").asText().equals(path)) {
                return m;
            }
        }
        throw new AssertionError("nothing mounted at " + path + " in " + container.path("name"));
    }

    static JsonNode volume(JsonNode podSpec, String name) {
        for (JsonNode v : podSpec.path("volumes")) {
            if (v.path("name").asText().equals(name)) {
                return v;
            }
        }
        throw new AssertionError("no volume " + name);
    }

    static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
