package ocimirror.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Debian's {@code docker-registry} (CNCF distribution) on 127.0.0.1 with its own config and
 * storage: plain HTTP or TLS, anonymous, htpasswd (Basic) or token auth. It can be
 * {@link #stop() stopped} and {@link #start() started} again on the same port and storage,
 * as an upstream outage would look. Its access log (stdout/stderr, appended across restarts)
 * is what tests count upstream requests with.
 */
public final class DockerRegistry implements AutoCloseable {

    private static final Duration READY = Duration.ofSeconds(20);

    private final Path dir;
    private final Path root;
    private final int port;
    private final boolean tls;
    private int marks;
    private final List<String> command;
    private final Processes processes;
    private Processes.Daemon daemon;

    private DockerRegistry(Path dir, Path root, int port, boolean tls, List<String> command) {
        this.dir = dir;
        this.root = root;
        this.port = port;
        this.tls = tls;
        this.command = command;
        this.processes = new Processes(dir.resolve("logs"));
    }

    /** A plain-HTTP, anonymous registry with its config, storage and logs under {@code dir}. */
    public static DockerRegistry start(Path dir) throws IOException, InterruptedException {
        return builder(dir).start();
    }

    /**
     * @param tls  server certificate, or null for plain HTTP
     * @param auth the YAML {@code auth:} section's content, or null for anonymous
     */
    public static DockerRegistry start(Path dir, TestPki.Issued tls, String auth)
            throws IOException, InterruptedException {
        return builder(dir).tls(tls).auth(auth).start();
    }

    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    /** Options of a registry to start; everything optional. */
    public static final class Builder {
        private final Path dir;
        private TestPki.Issued tls;
        private String auth;

        private Builder(Path dir) {
            this.dir = dir;
        }

        /** Serve TLS with this certificate (issue it for {@code IP:127.0.0.1}). */
        public Builder tls(TestPki.Issued cert) {
            this.tls = cert;
            return this;
        }

        /** Basic auth against a bcrypt htpasswd file holding one user, written with {@code htpasswd -Bbn}. */
        public Builder htpasswd(String user, String password) throws IOException, InterruptedException {
            Path exe = Programs.require("htpasswd", "apache2-utils");
            Files.createDirectories(dir);
            Path file = dir.resolve("htpasswd");
            Files.writeString(file, Programs.run(exe.toString(), "-Bbn", user, password));
            return auth("htpasswd: { realm: " + dir.getFileName() + ", path: " + file + " }\n");
        }

        /** Bearer token auth: distribution trusts JWTs signed by a key whose certificate chains to {@code rootCertBundle}. */
        public Builder token(String realm, String service, String issuer, Path rootCertBundle) {
            return auth("token:\n"
                    + "  realm: " + realm + "\n"
                    + "  service: " + service + "\n"
                    + "  issuer: " + issuer + "\n"
                    + "  rootcertbundle: " + rootCertBundle + "\n");
        }

        /** The content of the YAML {@code auth:} section, or null for anonymous. */
        public Builder auth(String yaml) {
            this.auth = yaml;
            return this;
        }

        public DockerRegistry start() throws IOException, InterruptedException {
            Path exe = Programs.require("docker-registry", "docker-registry");
            int port = Programs.freePort();
            Path root = Files.createDirectories(dir.resolve("data"));
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
                yml.append("  tls: { certificate: ").append(tls.cert()).append(", key: ").append(tls.key())
                        .append(" }\n");
            }
            if (auth != null) {
                yml.append("auth:\n").append(auth.indent(2));
            }
            Path config = dir.resolve("config.yml");
            Files.writeString(config, yml);
            DockerRegistry r = new DockerRegistry(dir, root, port, tls != null,
                    List.of(exe.toString(), "serve", config.toString()));
            r.start();
            return r;
        }
    }

    /** Starts the registry again after {@link #stop()}: same port, config and storage. */
    public synchronized void start() {
        if (daemon != null && daemon.isAlive()) {
            throw new IllegalStateException("docker-registry on " + port + " is already running");
        }
        daemon = processes.start("docker-registry", command, Map.of());
        daemon.awaitPort(port, READY);
    }

    /** Stops the process (SIGTERM, then SIGKILL); {@link #start()} brings it back. */
    public synchronized void stop() {
        if (daemon != null) {
            daemon.close();
            daemon = null;
        }
    }

    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:PORT}, as in image references. */
    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    /** {@code https://127.0.0.1:PORT} or {@code http://...}. */
    public String url() {
        return (tls ? "https://" : "http://") + hostPort();
    }

    public boolean isTls() {
        return tls;
    }

    /** The storage root: {@code docker/registry/v2/...} lives below it. */
    public Path root() {
        return root;
    }

    /** The directory given at start: config.yml, htpasswd, data/ and logs/. */
    public Path dir() {
        return dir;
    }

    /** Where distribution keeps the bytes of {@code digest} ({@code sha256:HEX}). */
    public Path blobFile(String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return root.resolve("docker/registry/v2/blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex)
                .resolve("data");
    }

    /**
     * Every log line so far (access log and application log, across restarts). distribution
     * writes a request's access line after the answer has gone out, so a client can see its
     * answer first: while the registry runs, a marker request goes first and its line is awaited
     * (up to 5 s), which leaves the lines of requests answered earlier time to be written.
     */
    public List<String> log() {
        String marker = markRequest();
        if (marker == null) {
            return Processes.read(logFile()).lines().toList();
        }
        return Processes.linesUntil(logFile(), marker, Duration.ofSeconds(5)).stream()
                .filter(l -> !l.contains("/v2/ocimirror-mark/")).toList();
    }

    /** Sends {@code GET /v2/ocimirror-mark/N/tags/list}; null if the registry is not running. */
    private synchronized String markRequest() {
        if (daemon == null || !daemon.isAlive()) {
            return null;
        }
        String path = "/v2/ocimirror-mark/" + (++marks) + "/tags/list";
        try (java.net.Socket s = tls ? TrustAll.socket(port) : new java.net.Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + hostPort()
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getInputStream().readAllBytes();
            return path;
        } catch (IOException | java.security.GeneralSecurityException e) {
            return null;
        }
    }

    /** A TLS client socket that trusts any certificate: only for the marker above. */
    private static final class TrustAll implements javax.net.ssl.X509TrustManager {
        static java.net.Socket socket(int port) throws IOException, java.security.GeneralSecurityException {
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, new javax.net.ssl.TrustManager[] {new TrustAll()}, null);
            return ctx.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port);
        }

        @Override
        public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) {
        }

        @Override
        public java.security.cert.X509Certificate[] getAcceptedIssuers() {
            return new java.security.cert.X509Certificate[0];
        }
    }

    private Path logFile() {
        return dir.resolve("logs/docker-registry.log");
    }

    /**
     * Access-log lines of {@code method} requests for exactly {@code path} (any query). The
     * access log is the combined format, {@code "GET /v2/... HTTP/1.1" 200 ...}; the
     * application log's {@code http.request.uri=} lines do not match, so nothing is counted twice.
     */
    public long requests(String method, String path) {
        Pattern line = Pattern.compile("\"" + Pattern.quote(method + " " + path) + "(\\?[^ \"]*)? HTTP/1\\.[01]\"");
        return log().stream().filter(l -> line.matcher(l).find()).count();
    }

    /** How many {@code GET /v2/<repo>/blobs/<digest>} requests the registry has logged. */
    public long blobGets(String repo, String digest) {
        return requests("GET", "/v2/" + repo + "/blobs/" + digest);
    }

    /** Pushes an image with skopeo ({@code --preserve-digests}, so the manifest bytes are kept). */
    public void push(String source, String repoAndTag, Path certDir, String creds)
            throws IOException, InterruptedException {
        Path skopeo = Programs.require("skopeo", "skopeo");
        List<String> cmd = new ArrayList<>(List.of(skopeo.toString(), "--insecure-policy", "--registries-conf",
                "/dev/null", "copy", "--preserve-digests", "--retry-times", "0"));
        if (certDir != null) {
            cmd.addAll(List.of("--dest-cert-dir", certDir.toString()));
        } else {
            cmd.add("--dest-tls-verify=false");
        }
        if (creds != null) {
            cmd.addAll(List.of("--dest-creds", creds));
        }
        cmd.add(source);
        cmd.add("docker://" + hostPort() + "/" + repoAndTag);
        Programs.run(Duration.ofSeconds(120), Map.of(), cmd.toArray(String[]::new));
    }

    /** {@link #push(String, String, Path, String)} of a {@link TinyImage}. */
    public void push(TinyImage image, String repoAndTag, Path certDir, String creds)
            throws IOException, InterruptedException {
        push(image.source(), repoAndTag, certDir, creds);
    }

    @Override
    public void close() {
        stop();
    }
}
