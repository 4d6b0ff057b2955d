package ocimirror.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A private containerd daemon (root, state and socket under a temp directory, the CRI and
 * tracing plugins off, an isolated content store per namespace) and the {@code ctr} client
 * pointed at it. Pulls go straight to the registry under test over plain HTTP, as a node
 * configured with that registry's address would.
 */
final class Containerd implements AutoCloseable {

    private static final Duration CTR_TIMEOUT = Duration.ofMinutes(2);

    private final Processes.Daemon daemon;
    private final Processes processes;
    private final String ctr;
    private final Path socket;
    private final String snapshotter;

    private Containerd(Processes.Daemon daemon, Processes processes, String ctr, Path socket, String snapshotter) {
        this.daemon = daemon;
        this.processes = processes;
        this.ctr = ctr;
        this.socket = socket;
        this.snapshotter = snapshotter;
    }

    /**
     * Starts containerd under {@code dir} and waits until {@code ctr version} answers.
     *
     * @param snapshotter the snapshotter layers are unpacked with ({@code native} works
     *                    without overlayfs, e.g. inside containers)
     */
    static Containerd start(Path dir, String snapshotter) throws IOException {
        Programs.requireRoot("containerd");
        String containerd = Programs.require("containerd");
        String ctr = Programs.require("ctr");
        Path root = Files.createDirectories(dir.resolve("root"));
        Path state = Files.createDirectories(dir.resolve("state"));
        Path socket = dir.resolve("ctrd.sock");
        Path config = dir.resolve("config.toml");
        Files.writeString(config, String.join("\n",
                "version = 2",
                "root = \"" + root + "\"",
                "state = \"" + state + "\"",
                "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.tracing.processor.v1.otlp\","
                        + " \"io.containerd.internal.v1.tracing\"]",
                "[grpc]",
                "  address = \"" + socket + "\"",
                "[ttrpc]",
                "  address = \"" + socket + ".ttrpc\"",
                "[plugins.\"io.containerd.metadata.v1.bolt\"]",
                "  content_sharing_policy = \"isolated\"",
                ""));
        Processes processes = new Processes(dir.resolve("logs"));
        Processes.Daemon daemon = processes.start("containerd",
                List.of(containerd, "--config", config.toString()), Map.of());
        daemon.awaitReady(Duration.ofSeconds(30), () -> processes.run(
                List.of(ctr, "--address", socket.toString(), "version"), Map.of(), Duration.ofSeconds(5))
                .exitCode() == 0);
        return new Containerd(daemon, processes, ctr, socket, snapshotter);
    }

    /** Runs {@code ctr --address SOCK -n NAMESPACE ARGS}; the caller checks the result. */
    Processes.Result ctr(String namespace, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ctr, "--address", socket.toString(), "-n", namespace));
        cmd.addAll(List.of(args));
        return processes.run(cmd, Map.of(), CTR_TIMEOUT);
    }

    /** {@code ctr images pull --plain-http [flags] ref}, unpacking with the chosen snapshotter. */
    Processes.Result pull(String namespace, String ref, String... flags) {
        List<String> args = new ArrayList<>(List.of("images", "pull", "--plain-http", "--snapshotter", snapshotter));
        args.addAll(List.of(flags));
        args.add(ref);
        return ctr(namespace, args.toArray(String[]::new)).requireSuccess();
    }

    /** The target digest {@code ctr images ls} shows for {@code ref}, if the image is there. */
    Optional<String> imageTarget(String namespace, String ref) {
        // Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS
        for (String line : ctr(namespace, "images", "ls").requireSuccess().stdout().split("\n")) {
            String[] cols = line.trim().split("\\s+");
            if (cols.length >= 3 && cols[0].equals(ref)) {
                return Optional.of(cols[2]);
            }
        }
        return Optional.empty();
    }

    /** Every digest in the namespace's content store ({@code ctr content ls -q}). */
    Set<String> contentDigests(String namespace) {
        Set<String> digests = new HashSet<>();
        for (String line : ctr(namespace, "content", "ls", "-q").requireSuccess().stdout().split("\n")) {
            if (!line.isBlank()) {
                digests.add(line.trim());
            }
        }
        return digests;
    }

    /** The daemon's log, for failure messages. */
    String log() {
        return Processes.tail(Processes.read(daemon.log()));
    }

    @Override
    public void close() {
        daemon.close();
    }
}
