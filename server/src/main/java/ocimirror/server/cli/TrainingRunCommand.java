package ocimirror.server.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.server.MirrorServer;
import ocimirror.server.access.LogSetup;
import ocimirror.storage.oci.Digest;
import picocli.CommandLine.Command;

/**
 * {@code ocimirror training-run} (hidden): what {@code bin/ocimirror} runs once, under
 * {@code -XX:ArchiveClassesAtExit}, to build its class-data archive. It goes through what a
 * {@code serve} goes through until its first requests are answered (a YAML configuration file,
 * the logging set-up, the storage, the server with a proxied repository whose upstream refuses
 * connections, a push and pull of a one-layer image over plain HTTP) and a start with TLS and a
 * generated CA, in a temporary directory deleted afterwards. The classes this loads are then
 * mapped from the archive by every later start instead of being read from the jar, parsed and
 * verified again. No request goes over TLS: the JDK's TLS client would add some 500 classes
 * (more memory in every server, which maps the whole archive) that a server never uses.
 */
@Command(name = "training-run", hidden = true,
        description = "Serves a push and a pull in a temporary directory, then stops (for bin/ocimirror's class-data archive).")
final class TrainingRunCommand implements Callable<Integer> {
    private static final String REPO = "training/image";
    private static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("ocimirror-training-");
        try {
            serve(dir, false);
            serve(dir, true);
            return 0;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void serve(Path dir, boolean tls) throws Exception {
        Path file = dir.resolve(tls ? "tls.yaml" : "plain.yaml");
        Files.writeString(file, String.join("\n",
                "listen: 127.0.0.1:0",
                "data: " + dir.resolve("data"),
                "hosted: [training]",
                "upstreams:",
                "  - name: nowhere",
                "    url: http://127.0.0.1:1",
                "    plainHttp: true",
                "    default: true",
                tls ? "" : "tls: {mode: off}",
                ""));
        MirrorConfig config = ConfigLoader.load(file);
        LogSetup.apply(LogSetup.effective(config.observability().log().format(), System.getenv()));
        try (MirrorServer server = MirrorServer.start(config)) {
            if (tls) {
                return;
            }
            Client client = new Client("http://127.0.0.1:" + server.localAddress().getPort());
            byte[] layer = "training layer".getBytes(UTF_8);
            byte[] configBlob = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(UTF_8);
            String layerDigest = Digest.sha256(layer).toString();
            String configDigest = Digest.sha256(configBlob).toString();
            byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MANIFEST_TYPE + "\","
                    + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\""
                    + configDigest + "\",\"size\":" + configBlob.length + "},"
                    + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\""
                    + layerDigest + "\",\"size\":" + layer.length + "}]}").getBytes(UTF_8);
            client.call("GET", "/v2/", null, null);
            client.call("POST", "/v2/" + REPO + "/blobs/uploads/?digest=" + configDigest, "application/octet-stream",
                    configBlob);
            client.call("POST", "/v2/" + REPO + "/blobs/uploads/?digest=" + layerDigest, "application/octet-stream",
                    layer);
            client.call("PUT", "/v2/" + REPO + "/manifests/v1", MANIFEST_TYPE, manifest);
            client.call("GET", "/v2/" + REPO + "/manifests/v1", null, null);
            client.call("HEAD", "/v2/" + REPO + "/blobs/" + layerDigest, null, null);
            client.call("GET", "/v2/" + REPO + "/blobs/" + layerDigest, null, null);
            client.call("GET", "/v2/" + REPO + "/tags/list", null, null);
            client.call("GET", "/v2/library/unreachable/manifests/latest", null, null);
            client.call("GET", "/healthz", null, null);
            client.call("GET", "/metrics", null, null);
        }
    }

    /** Requests whose answers are read and dropped: only the work they cause matters here. */
    private record Client(String base) {
        void call(String method, String path, String type, byte[] body) throws IOException {
            HttpURLConnection c = (HttpURLConnection) new URL(base + path).openConnection();
            c.setConnectTimeout(5_000);
            c.setReadTimeout(10_000);
            c.setRequestMethod(method);
            if (body != null) {
                c.setDoOutput(true);
                c.setRequestProperty("Content-Type", type);
                c.setFixedLengthStreamingMode(body.length);
                try (OutputStream out = c.getOutputStream()) {
                    out.write(body);
                }
            }
            int status = c.getResponseCode();
            try (InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
                if (in != null) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
            }
        }
    }
}
