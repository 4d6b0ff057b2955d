package ocimirror.testing;

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
 * pointed at it. {@link #pull} goes straight to a registry over plain HTTP, as a node
 * configured with that registry's address would; {@link #pullWithHosts} resolves through a
 * {@code hosts.toml} directory, as a node with a registry mirror does ({@code config_path}
 * in containerd's config, {@code --hosts-dir} for {@code ctr}).
 */
public final class Containerd implements AutoCloseable {

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
    public static Containerd start(Path dir, String snapshotter) throws IOException {
        Programs.requireRoot("containerd");
        String containerd = Programs.require("containerd").toString();
        String ctr = Programs.require("ctr").toString();
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
    public Processes.Result ctr(String namespace, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ctr, "--address", socket.toString(), "-n", namespace));
        cmd.addAll(List.of(args));
        return processes.run(cmd, Map.of(), CTR_TIMEOUT);
    }

    /** {@code ctr images pull --plain-http [flags] ref}, unpacking with the chosen snapshotter. */
    public Processes.Result pull(String namespace, String ref, String... flags) {
        List<String> args = new ArrayList<>(List.of("images", "pull", "--plain-http", "--snapshotter", snapshotter));
        args.addAll(List.of(flags));
        args.add(ref);
        return ctr(namespace, args.toArray(String[]::new)).requireSuccess();
    }

    /**
     * {@code ctr images pull --hosts-dir DIR [flags] ref}: the registry host of {@code ref} is
     * looked up in {@code DIR/<host>/hosts.toml}, whose hosts are tried in order before its
     * {@code server}. The caller checks the result, so a failed pull can be asserted on.
     */
    public Processes.Result pullWithHosts(Path hostsDir, String namespace, String ref, String... flags) {
        List<String> args = new ArrayList<>(List.of("images", "pull", "--hosts-dir", hostsDir.toString(),
                "--snapshotter", snapshotter));
        args.addAll(List.of(flags));
        args.add(ref);
        return ctr(namespace, args.toArray(String[]::new));
    }

    /** How a {@code hosts.toml} points containerd at a mirror. */
    public enum MirrorLayout {
        /** {@code [host."http://mirror:port"]}: requests keep the repository path and carry {@code ?ns=<host>}. */
        NAMESPACE,
        /**
         * {@code [host."http://mirror:port/v2/<alias>"]} with {@code override_path = true}: the host's
         * path replaces {@code /v2}, so requests go to {@code /v2/<alias>/<repo>/...}.
         */
        OVERRIDE_PATH
    }

    /**
     * Writes {@code hostsDir/<registryHost>/hosts.toml} sending pulls of {@code registryHost}
     * to the mirror at {@code mirrorBase} ({@code http://127.0.0.1:PORT}; plain HTTP because the
     * scheme says so). {@code server} stays {@code https://<registryHost>}: containerd falls
     * back to it when every host fails, so with a host name that does not resolve a
     * successful pull proves the mirror served it.
     *
     * @param alias the path segment for {@link MirrorLayout#OVERRIDE_PATH} (ignored otherwise)
     * @param ca    a CA file for an https mirror, or null
     */
    public static Path writeHostsToml(Path hostsDir, String registryHost, String mirrorBase, MirrorLayout layout,
                                      String alias, Path ca) throws IOException {
        Path dir = Files.createDirectories(hostsDir.resolve(registryHost));
        String host = layout == MirrorLayout.OVERRIDE_PATH ? mirrorBase + "/v2/" + alias : mirrorBase;
        StringBuilder toml = new StringBuilder()
                .append("server = \"https://").append(registryHost).append("\"\n\n")
                .append("[host.\"").append(host).append("\"]\n")
                .append("  capabilities = [\"pull\", \"resolve\"]\n");
        if (layout == MirrorLayout.OVERRIDE_PATH) {
            toml.append("  override_path = true\n");
        }
        if (ca != null) {
            toml.append("  ca = \"").append(ca).append("\"\n");
        }
        return Files.writeString(dir.resolve("hosts.toml"), toml);
    }

    /** The target digest {@code ctr images ls} shows for {@code ref}, if the image is there. */
    public Optional<String> imageTarget(String namespace, String ref) {
        // Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS
        for (String line : ctr(namespace, "images", "ls").requireSuccess().stdout().split("\n")) {
            String[] cols = line.trim().split("\\s+");
            if (cols.length >= 3 && cols[0].equals(ref)) {
                return Optional.of(cols[2]);
            }
        }
        return Optional.empty();
    }

    /** The digests of {@code image}'s blobs that the namespace's content store lacks. */
    public List<String> missingContent(String namespace, OciLayoutBuilder.Image image) {
        Set<String> content = contentDigests(namespace);
        return image.blobs().stream().map(OciLayoutBuilder.Blob::digest).filter(d -> !content.contains(d)).toList();
    }

    /** Every digest in the namespace's content store ({@code ctr content ls -q}). */
    public Set<String> contentDigests(String namespace) {
        Set<String> digests = new HashSet<>();
        for (String line : ctr(namespace, "content", "ls", "-q").requireSuccess().stdout().split("\n")) {
            if (!line.isBlank()) {
                digests.add(line.trim());
            }
        }
        return digests;
    }

    /** The daemon's log, for failure messages. */
    public String log() {
        return Processes.tail(Processes.read(daemon.log()));
    }

    @Override
    public void close() {
        daemon.close();
    }
}
