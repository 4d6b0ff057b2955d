package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.config.SharedBackends;
import ocimirror.config.TlsConfig;
import ocimirror.testing.Commands;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/kubernetes/shared without a cluster: what its kustomization applies (the base's
 * Namespace and Service, a ConfigMap, a Deployment and a PodDisruptionBudget) hangs together; the
 * ConfigMap's config loads as shared backends, with every file it names (the PostgreSQL password,
 * the CA) replaced by the example Secret's content at the path the Deployment mounts it; the
 * replicas are several, spread, drained one at a time, probed as the StatefulSet is; and the
 * documented openssl command makes one CA that every replica issues its certificate from.
 */
class SharedKubernetesTest {
    private static final Path K8S = DockerFolder.docker().resolve("kubernetes");
    private static final Path SHARED = K8S.resolve("shared");
    private static final String NAMESPACE = "ocimirror";
    private static final Dockerfile DOCKERFILE = Dockerfile.read(DockerFolder.docker().resolve("Dockerfile"));

    @TempDir
    Path tmp;

    @Test
    void theKitAppliesEveryManifestButTheSecretsAndReusesTheBasesNamespaceAndService() throws Exception {
        JsonNode k = DockerFolder.yaml(SHARED.resolve("kustomization.yaml"));
        Set<String> resources = new TreeSet<>(KubernetesManifestsTest.texts(k.path("resources")));
        Set<String> manifests = new TreeSet<>();
        try (var files = Files.list(SHARED)) {
            files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).forEach(manifests::add);
        }
        manifests.removeAll(Set.of("kustomization.yaml", "secrets.yaml"));
        assertEquals(manifests, resources, "kustomization.yaml lists every manifest (the Secrets are made by hand)");

        Set<String> seen = new HashSet<>();
        for (JsonNode o : applied()) {
            String id = o.path("kind").asText() + "/" + o.at("/metadata/name").asText();
            assertTrue(seen.add(id), "one " + id);
            if (!o.path("kind").asText().equals("Namespace")) {
                assertEquals(NAMESPACE, o.at("/metadata/namespace").asText(), id + " is in " + NAMESPACE);
            }
        }
        assertEquals(Set.of("Namespace/ocimirror", "Service/ocimirror", "ConfigMap/ocimirror-shared-config",
                "Deployment/ocimirror", "PodDisruptionBudget/ocimirror"), seen);
        for (String[] same : new String[][] {{"Namespace", NAMESPACE}, {"Service", "ocimirror"}}) {
            assertEquals(KubernetesManifestsTest.object(same[0], same[1]), object(applied(), same[0], same[1]),
                    same[0] + " " + same[1] + " is the base's");
        }
        assertEquals(k.at("/images/0/name").asText(), container().path("image").asText());

        JsonNode pod = object(applied(), "Deployment", "ocimirror").at("/spec/template");
        Set<String> portNames = new HashSet<>();
        pod.at("/spec/containers/0/ports").forEach(p -> portNames.add(p.path("name").asText()));
        JsonNode svc = object(applied(), "Service", "ocimirror");
        assertTrue(selects(svc.at("/spec/selector"), pod.at("/metadata/labels")), "the Service selects the replicas");
        svc.at("/spec/ports").forEach(p -> assertTrue(portNames.contains(p.path("targetPort").asText()),
                "the Service targets a container port: " + p));
    }

    @Test
    void severalReplicasSpreadOverNodesAndDrainedOneAtATime() throws Exception {
        JsonNode deployment = object(applied(), "Deployment", "ocimirror");
        JsonNode labels = deployment.at("/spec/template/metadata/labels");
        int replicas = deployment.at("/spec/replicas").asInt();
        assertTrue(replicas >= 2, "several replicas: " + replicas);
        assertTrue(selects(deployment.at("/spec/selector/matchLabels"), labels), "the selector matches the pods");
        assertEquals("RollingUpdate", deployment.at("/spec/strategy/type").asText());
        assertEquals(0, DockerFolder.at(deployment, "/spec/strategy/rollingUpdate/maxUnavailable", "Deployment")
                .asInt(), "a rollout starts a new replica before it stops an old one");

        JsonNode pdb = object(applied(), "PodDisruptionBudget", "ocimirror");
        assertTrue(selects(DockerFolder.at(pdb, "/spec/selector/matchLabels", "PDB"), labels), "the PDB covers the replicas");
        int disruptions = pdb.at("/spec/maxUnavailable").isMissingNode()
                ? replicas - DockerFolder.at(pdb, "/spec/minAvailable", "PDB").asInt()
                : pdb.at("/spec/maxUnavailable").asInt();
        assertEquals(1, disruptions, "a drain takes one replica at a time, never none (it would block)");

        JsonNode pod = deployment.at("/spec/template/spec");
        boolean spreadOverNodes = false;
        for (JsonNode c : pod.path("topologySpreadConstraints")) {
            spreadOverNodes |= c.path("topologyKey").asText().equals("kubernetes.io/hostname")
                    && selects(c.at("/labelSelector/matchLabels"), labels) && c.path("maxSkew").asInt() == 1;
        }
        for (JsonNode t : pod.at("/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution")) {
            spreadOverNodes |= t.at("/podAffinityTerm/topologyKey").asText().equals("kubernetes.io/hostname")
                    && selects(t.at("/podAffinityTerm/labelSelector/matchLabels"), labels);
        }
        assertTrue(spreadOverNodes, "the replicas are spread over nodes");
        MirrorConfig config = sharedConfig(tmp);
        assertTrue(pod.path("terminationGracePeriodSeconds").asLong() > config.shutdown().gracePeriod().toSeconds(),
                "the kubelet waits longer than the drain");
    }

    @Test
    void theReplicasRunTheImagesCommandOnALocalTierWithHttpsProbesAndTheSecretsKeys() throws Exception {
        JsonNode pod = podSpec();
        JsonNode c = container();
        List<String> cmd = DOCKERFILE.runtime().last("CMD").execForm();
        assertEquals(cmd, KubernetesManifestsTest.texts(c.path("args")), "the image's CMD");
        c.path("volumeMounts").forEach(m -> KubernetesManifestsTest.volume(pod, m.path("name").asText()));
        JsonNode data = KubernetesManifestsTest.volume(pod, KubernetesManifestsTest.mountAt(c,
                DockerfileTest.after(cmd, "--data")).path("name").asText());
        assertEquals("data", data.path("name").asText());
        long sizeLimit = quantity(DockerFolder.at(data, "/emptyDir/sizeLimit", "volume data").asText());
        assertTrue(quantity(DockerFolder.at(c, "/resources/requests/ephemeral-storage", "container").asText())
                >= sizeLimit, "the scheduler reserves the node disk the local tier may fill");
        Path configFile = Path.of(DockerfileTest.after(cmd, "--config"));
        String configMap = KubernetesManifestsTest.volume(pod, KubernetesManifestsTest.mountAt(c,
                configFile.getParent().toString()).path("name").asText()).at("/configMap/name").asText();
        assertTrue(object(applied(), "ConfigMap", configMap).path("data").has(configFile.getFileName().toString()));
        KubernetesManifestsTest.mountAt(c, "/tmp");

        int port = sharedConfig(tmp).listen().port();
        assertEquals(port, c.at("/ports/0/containerPort").asInt());
        String portName = c.at("/ports/0/name").asText();
        for (String[] probe : new String[][] {{"readinessProbe", "/readyz"}, {"livenessProbe", "/healthz"},
                {"startupProbe", "/healthz"}}) {
            JsonNode get = DockerFolder.at(c, "/" + probe[0] + "/httpGet", "container ocimirror");
            assertEquals(probe[1], get.path("path").asText(), probe[0]);
            assertEquals("HTTPS", get.path("scheme").asText(), probe[0]);
            assertEquals(portName, get.path("port").asText(), probe[0]);
        }
        String[] user = DOCKERFILE.runtime().last("USER").arguments().trim().split(":");
        assertEquals(Integer.parseInt(user[0]), pod.at("/securityContext/runAsUser").asInt());
        assertEquals(Integer.parseInt(user[1]), pod.at("/securityContext/fsGroup").asInt());

        // S3 credentials: the AWS environment, from keys the Secret has.
        Set<String> fromSecrets = new HashSet<>();
        for (JsonNode e : c.path("env")) {
            JsonNode ref = e.at("/valueFrom/secretKeyRef");
            if (!ref.isMissingNode()) {
                assertTrue(secretData(ref.path("name").asText()).containsKey(ref.path("key").asText()),
                        "Secret " + ref.path("name").asText() + " has key " + ref.path("key").asText());
                fromSecrets.add(e.path("name").asText());
            }
        }
        assertTrue(fromSecrets.containsAll(Set.of("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")), fromSecrets.toString());
        for (JsonNode v : pod.path("volumes")) {
            if (v.has("secret")) {
                var keys = secretData(v.at("/secret/secretName").asText());
                v.at("/secret/items").forEach(i -> assertTrue(keys.containsKey(i.path("key").asText()), "key " + i));
            }
        }
    }

    @Test
    void theConfigMapLoadsAsSharedBackendsReadingWhatTheDeploymentMounts() throws Exception {
        MirrorConfig config = sharedConfig(tmp);
        SharedBackends shared = config.shared();
        assertNotNull(shared, "storage.s3 and metadata.postgres: shared mode");
        assertEquals("ocimirror-cache", shared.s3().bucket());
        assertEquals("jdbc:postgresql://postgres.example:5432/ocimirror?sslmode=require", shared.postgres().url());
        assertEquals(tmp.resolve("ocimirror-shared-backends/postgres-password"), shared.postgres().passwordFile(),
                "the password file is the Secret's, where the Deployment mounts it");
        assertEquals("CHANGE-ME", Files.readString(shared.postgres().passwordFile()));

        List<String> cmd = DOCKERFILE.runtime().last("CMD").execForm();
        assertEquals(Path.of(DockerfileTest.after(cmd, "--data")), config.dataDir(), "the tier is under the data volume");
        long sizeLimit = quantity(KubernetesManifestsTest.volume(podSpec(), "data").at("/emptyDir/sizeLimit").asText());
        assertTrue(shared.tierMaxBytes() <= sizeLimit * 0.9, "the tier (" + shared.tierMaxBytes()
                + ") leaves room in the volume (" + sizeLimit + ") for downloads in progress");

        assertEquals(TlsConfig.Mode.FILES, config.tls().mode(), "a given CA, the same for every replica");
        assertEquals(tmp.resolve("ocimirror-tls-ca/ca.crt"), config.tls().caCertFile());
        assertEquals(tmp.resolve("ocimirror-tls-ca/ca.key"), config.tls().caKeyFile());
        for (String name : List.of("ocimirror." + NAMESPACE + ".svc", "mirror.example")) {
            assertTrue(config.tls().hostNames().contains(name), "the certificates cover " + name);
        }
        assertEquals(DockerFolder.routing(KubernetesManifestsTest.configMapConfig(Files.createDirectories(
                tmp.resolve("base")))), DockerFolder.routing(config), "the single-node ConfigMap's upstreams");
    }

    @Test
    void theDocumentedCommandsMakeOneCaThatEveryReplicaIssuesFrom() throws Exception {
        Commands.require("openssl", "openssl");
        String comments = Files.readString(SHARED.resolve("secrets.yaml"), StandardCharsets.UTF_8);
        Matcher openssl = Pattern.compile("(?m)^#\\s+(openssl req (?:.*\\\\\\n#)*.*)$").matcher(comments);
        assertTrue(openssl.find(), "secrets.yaml says how to make the CA with openssl");
        String command = openssl.group(1).replaceAll("\\\\\\n#\\s*", " ");
        Path dir = Files.createDirectories(tmp.resolve("made"));
        Commands.Result made = Commands.run(Duration.ofSeconds(60), "/bin/sh", "-c", "cd '" + dir + "' && " + command);
        assertEquals(0, made.exit(), command + "\n" + made.output());

        Matcher secret = Pattern.compile("(?m)^#\\s+kubectl -n ocimirror create secret generic ocimirror-tls-ca (.*)$")
                .matcher(comments);
        assertTrue(secret.find(), "secrets.yaml says how to make the CA's Secret");
        Set<String> keys = new TreeSet<>();
        for (String arg : secret.group(1).trim().split("\\s+")) {
            assertTrue(arg.startsWith("--from-file="), arg);
            keys.add(arg.substring("--from-file=".length()));
            assertTrue(Files.isRegularFile(dir.resolve(arg.substring("--from-file=".length()))), arg + " was made");
        }
        assertEquals(secretData("ocimirror-tls-ca").keySet(), keys, "the Secret's keys are the example's");

        MirrorConfig config = sharedConfig(tmp);
        Files.copy(dir.resolve("ca.crt"), config.tls().caCertFile(), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(dir.resolve("ca.key"), config.tls().caKeyFile(), StandardCopyOption.REPLACE_EXISTING);
        DockerFolder.assertEveryReplicaIssuesFrom(config.tls().caCertFile(), config.tls().caKeyFile(),
                config.tls().hostNames(), tmp);
    }

    /**
     * The ConfigMap's config.yaml, loaded with every path under a Secret the Deployment mounts
     * replaced by a file in {@code tmp}/SECRET/KEY holding the example Secret's value.
     */
    static MirrorConfig sharedConfig(Path tmp) throws Exception {
        JsonNode pod = podSpec();
        String configMap = KubernetesManifestsTest.volume(pod, "config").at("/configMap/name").asText();
        String text = object(applied(), "ConfigMap", configMap).at("/data/config.yaml").asText();
        for (JsonNode m : container().path("volumeMounts")) {
            JsonNode v = KubernetesManifestsTest.volume(pod, m.path("name").asText());
            if (!v.has("secret")) {
                continue;
            }
            String name = v.at("/secret/secretName").asText();
            var data = secretData(name);
            List<String[]> files = new ArrayList<>();
            if (v.at("/secret/items").isMissingNode()) {
                data.keySet().forEach(key -> files.add(new String[] {key, key}));
            } else {
                v.at("/secret/items").forEach(i -> files.add(new String[] {i.path("key").asText(), i.path("path").asText()}));
            }
            for (String[] f : files) {
                Path file = Files.createDirectories(tmp.resolve(name)).resolve(f[1]);
                Files.write(file, data.get(f[0]));
                text = text.replace(m.path("mountPath").asText() + "/" + f[1], file.toString());
            }
        }
        return ConfigLoader.parse(text, "ConfigMap " + configMap, false, tmp);
    }

    /** What kustomization.yaml applies. */
    static List<JsonNode> applied() {
        List<JsonNode> all = new ArrayList<>();
        for (JsonNode r : DockerFolder.yaml(SHARED.resolve("kustomization.yaml")).path("resources")) {
            all.addAll(DockerFolder.yamlDocuments(SHARED.resolve(r.asText())));
        }
        return all;
    }

    /** A Secret the replicas mount, from the examples (shared/secrets.yaml, the base's upstream credentials): key to value. */
    static Map<String, byte[]> secretData(String name) {
        List<JsonNode> examples = new ArrayList<>(DockerFolder.yamlDocuments(SHARED.resolve("secrets.yaml")));
        examples.addAll(DockerFolder.yamlDocuments(K8S.resolve("upstream-credentials.yaml")));
        JsonNode secret = object(examples, "Secret", name);
        Map<String, byte[]> data = new TreeMap<>();
        secret.path("data").properties().forEach(e -> data.put(e.getKey(), Base64.getDecoder().decode(e.getValue().asText())));
        secret.path("stringData").properties().forEach(e -> data.put(e.getKey(),
                e.getValue().asText().getBytes(StandardCharsets.UTF_8)));
        assertFalse(data.isEmpty(), "Secret " + name + " has keys");
        return data;
    }

    private static JsonNode object(List<JsonNode> objects, String kind, String name) {
        return objects.stream().filter(o -> o.path("kind").asText().equals(kind)
                        && o.at("/metadata/name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name + " in docker/kubernetes/shared"));
    }

    private static JsonNode podSpec() {
        return DockerFolder.at(object(applied(), "Deployment", "ocimirror"), "/spec/template/spec", "Deployment");
    }

    private static JsonNode container() {
        return KubernetesManifestsTest.container(podSpec(), "containers", "ocimirror");
    }

    /** Whether every label of {@code selector} is on {@code labels} (and it selects something). */
    private static boolean selects(JsonNode selector, JsonNode labels) {
        if (selector.isMissingNode() || selector.isEmpty()) {
            return false;
        }
        for (var l : selector.properties()) {
            if (!l.getValue().equals(labels.path(l.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** A Kubernetes quantity in bytes: 50Gi, 512Mi, 10G. */
    private static long quantity(String q) {
        Matcher m = Pattern.compile("(\\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?").matcher(q);
        assertTrue(m.matches(), "a quantity: " + q);
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "" : m.group(2);
        return switch (unit) {
            case "Ki" -> n << 10;
            case "Mi" -> n << 20;
            case "Gi" -> n << 30;
            case "Ti" -> n << 40;
            case "k" -> n * 1_000L;
            case "M" -> n * 1_000_000L;
            case "G" -> n * 1_000_000_000L;
            case "T" -> n * 1_000_000_000_000L;
            default -> n;
        };
    }
}
