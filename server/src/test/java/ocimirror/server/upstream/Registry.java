package ocimirror.server.upstream;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Debian's docker-registry (CNCF distribution) on 127.0.0.1 with its own config and storage. */
final class Registry implements AutoCloseable {

    final int port;
    final Path root;
    final Programs.Daemon daemon;

    private Registry(int port, Path root, Programs.Daemon daemon) {
        this.port = port;
        this.root = root;
        this.daemon = daemon;
    }

    /**
     * @param tls   server certificate, or null for plain HTTP
     * @param auth  the YAML {@code auth:} section, or null for anonymous
     */
    static Registry start(Path dir, TestPki.Issued tls, String auth) throws IOException, InterruptedException {
        Path exe = Programs.require("docker-registry", "docker-registry");
        int port = Programs.freePort();
        Path root = dir.resolve("data");
        Files.createDirectories(root);
        StringBuilder yml = new StringBuilder()
                .append("version: 0.1\n")
                .append("log: { level: info }\n")
                .append("storage:\n")
                .append("  filesystem: { rootdirectory: ").append(root).append(" }\n")
                .append("  delete: { enabled: true }\n")
                .append("  maintenance: { uploadpurging: { enabled: false } }\n")
                .append("http:\n")
                .append("  addr: 127.0.0.1:").append(port).append('\n')
                .append("  secret: ocimirror-test\n");
        if (tls != null) {
            yml.append("  tls: { certificate: ").append(tls.cert()).append(", key: ").append(tls.key()).append(" }\n");
        }
        if (auth != null) {
            yml.append("auth:\n").append(auth.indent(2));
        }
        Path config = dir.resolve("config.yml");
        Files.writeString(config, yml);
        Programs.Daemon d = new Programs.Daemon("docker-registry", dir.resolve("registry.log"),
                List.of(exe.toString(), "serve", config.toString()));
        d.awaitPort(port, Duration.ofSeconds(15));
        return new Registry(port, root, d);
    }

    /** Pushes {@code image} as {@code repo:tag} with skopeo, keeping the manifest bytes. */
    void push(TinyImage image, String repoAndTag, Path caDir, String creds) throws IOException, InterruptedException {
        Path skopeo = Programs.require("skopeo", "skopeo");
        List<String> cmd = new ArrayList<>(List.of(skopeo.toString(), "--insecure-policy", "--registries-conf",
                "/dev/null", "copy", "--preserve-digests", "--retry-times", "0"));
        if (caDir != null) {
            cmd.addAll(List.of("--dest-cert-dir", caDir.toString()));
        } else {
            cmd.add("--dest-tls-verify=false");
        }
        if (creds != null) {
            cmd.addAll(List.of("--dest-creds", creds));
        }
        cmd.add(image.source());
        cmd.add("docker://127.0.0.1:" + port + "/" + repoAndTag);
        Programs.run(Duration.ofSeconds(60), Map.of(), cmd.toArray(String[]::new));
    }

    /** The access-log lines of the registry so far. */
    List<String> log() throws IOException {
        return Files.readAllLines(daemon.log);
    }

    @Override
    public void close() throws InterruptedException {
        daemon.close();
    }
}
