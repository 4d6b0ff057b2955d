package ocimirror.e2e;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * CNCF distribution ({@code docker-registry} from Debian) as the registry under test: the
 * reference implementation the suite was first validated against. Plain HTTP, no auth,
 * delete enabled, listening on a free port of 127.0.0.1.
 */
final class DistributionRegistry implements RegistryUnderTest {

    private final Processes.Daemon daemon;
    private final String hostPort;

    private DistributionRegistry(Processes.Daemon daemon, String hostPort) {
        this.daemon = daemon;
        this.hostPort = hostPort;
    }

    static DistributionRegistry start(Path dir) throws Exception {
        String program = Programs.require("docker-registry");
        Path data = Files.createDirectories(dir.resolve("data"));
        int port = freePort();
        Path config = dir.resolve("config.yml");
        Files.writeString(config, String.join("\n",
                "version: 0.1",
                "log: { level: info }",
                "storage:",
                "  filesystem: { rootdirectory: " + data + " }",
                "  delete: { enabled: true }",
                "  maintenance: { uploadpurging: { enabled: false } }",
                "http:",
                "  addr: 127.0.0.1:" + port,
                "  secret: e2e-not-secret",
                ""));
        Processes.Daemon daemon = new Processes(dir.resolve("logs"))
                .start("docker-registry", List.of(program, "serve", config.toString()), Map.of());
        String hostPort = "127.0.0.1:" + port;
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ping = HttpRequest.newBuilder(URI.create("http://" + hostPort + "/v2/"))
                .timeout(Duration.ofSeconds(2)).build();
        daemon.awaitReady(Duration.ofSeconds(20),
                () -> http.send(ping, HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
        return new DistributionRegistry(daemon, hostPort);
    }

    /**
     * A port that was free a moment ago. distribution cannot be told to bind port 0 and
     * report it, so there is a small race with other programs; a collision fails fast at
     * start-up rather than silently.
     */
    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Override
    public String hostPort() {
        return hostPort;
    }

    @Override
    public String kind() {
        return "distribution";
    }

    @Override
    public void close() {
        daemon.close();
    }
}
