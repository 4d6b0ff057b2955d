package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import ocimirror.server.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node DaemonSet's init container, run here as a node would run it: its shell script with
 * its environment, the node's /etc/containerd and the CA ConfigMap moved to temporary
 * directories, and the image's {@code ocimirror} command backed by the test class path. It must
 * leave, for every registry it names, docker/examples/containerd/certs.d's hosts.toml (for its
 * own mirror address) and the CA; warn while containerd's config.toml sets no config_path; and
 * leave files it wrote before alone on a re-run.
 */
class NodeConfigDaemonSetTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void theInitScriptWritesTheExampleHostsAndTheCaIntoTheNodesContainerdDirectory() throws Exception {
        JsonNode pod = KubernetesManifestsTest.podSpec("DaemonSet", "ocimirror-node-config");
        JsonNode init = KubernetesManifestsTest.container(pod, "initContainers", "write-containerd-hosts");
        List<String> command = new ArrayList<>();
        init.path("command").forEach(n -> command.add(n.asText()));
        init.path("args").forEach(n -> command.add(n.asText()));
        assertEquals(List.of("/bin/sh", "-c"), command.subList(0, 2));

        Path ca = DockerFolder.generatedCa(tmp.resolve("data"));
        Path caMount = Files.createDirectories(tmp.resolve("ca-configmap"));
        Path caFile = Path.of(KubernetesManifestsTest.env(init, "CA_FILE"));
        Files.copy(ca, caMount.resolve(caFile.getFileName()));
        Path node = Files.createDirectories(tmp.resolve("node/etc/containerd")); // hostPath DirectoryOrCreate
        Map<String, String> env = new HashMap<>();
        init.path("env").forEach(e -> env.put(e.path("name").asText(), e.path("value").asText()));
        env.put("CA_FILE", caMount.resolve(caFile.getFileName()).toString());
        env.put("CONTAINERD_DIR", node.toString());
        env.put("PATH", ocimirrorCommand() + ":" + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));

        Result first = run(command, env);
        assertEquals(0, first.exit(), first.output());
        assertTrue(first.output().contains("sets no config_path"), "warns while config.toml lacks config_path:\n"
                + first.output());
        String mirror = env.get("MIRROR");
        for (String registry : env.get("REGISTRIES").split("\\s+")) {
            Path dir = node.resolve("certs.d").resolve(registry);
            String example = Files.readString(DockerFolder.docker().resolve("examples/containerd/certs.d")
                    .resolve(registry).resolve("hosts.toml"));
            assertEquals(example.replace(DockerFolder.EXAMPLE_MIRROR, mirror), Files.readString(dir.resolve("hosts.toml")),
                    registry + ": the example's hosts.toml, for the DaemonSet's mirror address");
            assertArrayEquals(Files.readAllBytes(ca), Files.readAllBytes(dir.resolve("ca.crt")));
        }

        // With config_path set (the example config.toml), a re-run is quiet and changes nothing.
        Files.copy(DockerFolder.docker().resolve("examples/containerd/config.toml"), node.resolve("config.toml"));
        env.put("REGISTRIES", "docker.io");
        Result again = run(command, env);
        assertEquals(0, again.exit(), again.output());
        assertFalse(again.output().contains("warning"), again.output());
        assertTrue(again.output().contains("unchanged " + node.resolve("certs.d/docker.io/hosts.toml")), again.output());
    }

    /** A directory holding {@code ocimirror}: the image's wrapper, with {@code java -jar JAR} as the test class path. */
    private Path ocimirrorCommand() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path wrapper = bin.resolve("ocimirror");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // C1 only: six short JVMs start faster; the commands behave the same.
        Files.writeString(wrapper, "#!/bin/sh\nexec '" + java + "' -XX:TieredStopAtLevel=1 -cp '"
                + System.getProperty("java.class.path")
                + "' " + Main.class.getName() + " \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin;
    }

    private record Result(int exit, String output) {
    }

    private Result run(List<String> command, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(env);
        Path log = Files.createTempFile(tmp, "script", ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        try {
            assertTrue(p.waitFor(150, TimeUnit.SECONDS), "the script did not finish");
        } finally {
            p.destroyForcibly();
        }
        return new Result(p.exitValue(), Files.readString(log));
    }
}
