package ocimirror.server;

import static ocimirror.testing.Images.bytes;
import static ocimirror.testing.Images.manifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real server on a loopback socket: HttpClient for ordinary requests, raw sockets for the rest. */
class MirrorServerTest {
    static final int MAX_HEADER = 8192;

    @TempDir
    Path dir;
    MirrorServer server;
    HttpClient client;
    String base;

    @BeforeEach
    void start() throws Exception {
        // Plain HTTP, asked for: these tests drive raw sockets (the TLS server is in the TLS tests).
        MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), dir,
                new MirrorConfig.Storage(true), new MirrorConfig.Limits(4 << 20, MAX_HEADER, 1L << 30, 30))
                .withTls(TlsConfig.off());
        server = MirrorServer.start(config);
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        base = "http://127.0.0.1:" + server.localAddress().getPort();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    HttpResponse<byte[]> send(HttpRequest.Builder b) throws Exception {
        return client.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpRequest.Builder req(String path) {
        return HttpRequest.newBuilder(URI.create(base + path));
    }

    @Test
    void listensOnAnEphemeralLoopbackPort() throws Exception {
        InetSocketAddress a = server.localAddress();
        assertEquals("127.0.0.1", a.getAddress().getHostAddress());
        assertTrue(a.getPort() > 0);
        HttpResponse<byte[]> r = send(req("/v2/"));
        assertEquals(200, r.statusCode());
        assertEquals("registry/2.0", r.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());
    }

    @Test
    void pushAndPullOverHttp() throws Exception {
        byte[] config = bytes("{\"os\":\"linux\"}");
        byte[] layer = new byte[300_000];
        new Random(3).nextBytes(layer);
        Digest configDigest = Digest.sha256(config);
        assertEquals(201, send(req("/v2/it/app/blobs/uploads/?digest=" + configDigest)
                .POST(HttpRequest.BodyPublishers.ofByteArray(config))).statusCode());

        // Chunked: POST, two PATCHes, PUT.
        HttpResponse<byte[]> start = send(req("/v2/it/app/blobs/uploads/").POST(HttpRequest.BodyPublishers.noBody()));
        assertEquals(202, start.statusCode());
        String location = start.headers().firstValue("Location").orElseThrow();
        HttpResponse<byte[]> p1 = send(req(location).header("Content-Range", "0-99999").header("Content-Type", "application/octet-stream")
                .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(layer, 0, 100_000)));
        assertEquals(202, p1.statusCode());
        assertEquals("0-99999", p1.headers().firstValue("Range").orElseThrow());
        HttpResponse<byte[]> p2 = send(req(location).method("PATCH",
                HttpRequest.BodyPublishers.ofByteArray(layer, 100_000, layer.length - 100_000)));
        assertEquals(202, p2.statusCode());
        Digest layerDigest = Digest.sha256(layer);
        HttpResponse<byte[]> done = send(req(location + "?digest=" + layerDigest).PUT(HttpRequest.BodyPublishers.noBody()));
        assertEquals(201, done.statusCode(), new String(done.body()));

        byte[] m = manifest(config, layer);
        HttpResponse<byte[]> put = send(req("/v2/it/app/manifests/v1").header("Content-Type", MediaTypes.OCI_MANIFEST)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(m)));
        assertEquals(201, put.statusCode(), new String(put.body()));

        HttpResponse<byte[]> got = send(req("/v2/it/app/manifests/v1").header("Accept", MediaTypes.OCI_MANIFEST));
        assertArrayEquals(m, got.body());
        assertEquals(Digest.sha256(m).toString(), got.headers().firstValue("Docker-Content-Digest").orElseThrow());

        assertArrayEquals(layer, send(req("/v2/it/app/blobs/" + layerDigest)).body());
        HttpResponse<byte[]> range = send(req("/v2/it/app/blobs/" + layerDigest).header("Range", "bytes=1000-1999"));
        assertEquals(206, range.statusCode());
        assertArrayEquals(java.util.Arrays.copyOfRange(layer, 1000, 2000), range.body());

        HttpResponse<byte[]> head = send(req("/v2/it/app/blobs/" + layerDigest).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertEquals(200, head.statusCode());
        assertEquals(String.valueOf(layer.length), head.headers().firstValue("Content-Length").orElseThrow());
        assertEquals("{\"name\":\"it/app\",\"tags\":[\"v1\"]}", new String(send(req("/v2/it/app/tags/list")).body()));
    }

    @Test
    void rawTraversalPathIsRefusedAndTheConnectionStaysUsable() throws Exception {
        try (RawConnection c = new RawConnection(server.localAddress())) {
            c.write("GET /v2/../../etc/passwd/manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n");
            RawResponse r = c.read();
            assertEquals(400, r.status);
            assertTrue(r.bodyText().contains("NAME_INVALID"), r.bodyText());
            c.write("GET /v2/%2e%2e/x/blobs/sha256:" + "a".repeat(64) + " HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(400, c.read().status);
            c.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(200, c.read().status);
        }
    }

    @Test
    void oversizedHeadersAre431AndTheConnectionCloses() throws Exception {
        try (RawConnection c = new RawConnection(server.localAddress())) {
            c.write("GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(MAX_HEADER + 100) + "\r\n\r\n");
            RawResponse r = c.read();
            assertEquals(431, r.status);
            assertTrue(r.bodyText().contains("HEADERS_TOO_LARGE"), r.bodyText());
            assertEquals("registry/2.0", r.headers.get("docker-distribution-api-version"));
            assertTrue(c.atEof(), "the connection must be closed");
        }
        assertEquals(200, send(req("/v2/")).statusCode());
    }

    @Test
    void expectContinueIsAnswered() throws Exception {
        byte[] blob = bytes("continue me");
        Digest d = Digest.sha256(blob);
        try (RawConnection c = new RawConnection(server.localAddress())) {
            c.write("POST /v2/cont/blobs/uploads/?digest=" + d + " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    + "Content-Length: " + blob.length + "\r\n\r\n");
            RawResponse go = c.read();
            assertEquals(100, go.status);
            assertEquals("registry/2.0", go.headers.get("docker-distribution-api-version"));
            c.out.write(blob);
            c.out.flush();
            assertEquals(201, c.read().status);
        }
    }

    @Test
    void pipelinedRequestsComeBackInOrder() throws Exception {
        try (RawConnection c = new RawConnection(server.localAddress())) {
            c.write("GET /v2/_catalog HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/nope/manifests/x HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
            assertTrue(c.read().bodyText().contains("repositories"));
            assertEquals(404, c.read().status);
            assertEquals("{}", c.read().bodyText());
        }
    }

    @Test
    void disconnectMidUploadLeavesNothingAndTheServerServesOn() throws Exception {
        byte[] blob = new byte[2_000_000];
        new Random(4).nextBytes(blob);
        Digest d = Digest.sha256(blob);
        try (RawConnection c = new RawConnection(server.localAddress())) {
            c.write("POST /v2/cut/blobs/uploads/?digest=" + d + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + blob.length + "\r\n\r\n");
            c.out.write(blob, 0, 1_200_000);
            c.out.flush();
        }
        assertEquals(200, send(req("/v2/")).statusCode());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (ingestFiles() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, ingestFiles(), "the ingest file of the cut upload must be discarded");
        assertEquals(404, send(req("/v2/cut/blobs/" + d)).statusCode());
        // The same upload, whole, on a new connection.
        assertEquals(201, send(req("/v2/cut/blobs/uploads/?digest=" + d).POST(HttpRequest.BodyPublishers.ofByteArray(blob))).statusCode());
        assertArrayEquals(blob, send(req("/v2/cut/blobs/" + d)).body());
    }

    @Test
    void closeIsIdempotentAndStopsListening() throws Exception {
        InetSocketAddress a = server.localAddress();
        server.close();
        server.close();
        assertThrows(IOException.class, () -> {
            try (Socket s = new Socket(a.getAddress(), a.getPort())) {
                s.getOutputStream().write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                if (s.getInputStream().read() < 0) {
                    throw new IOException("closed");
                }
            }
        });
        // The data directory can be opened again: RocksDB's lock was released.
        MirrorServer again = MirrorServer.start(new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), dir, null, null)
                .withTls(TlsConfig.off()));
        again.close();
    }

    private long ingestFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve("ingest"))) {
            return s.count();
        }
    }

    record RawResponse(int status, Map<String, String> headers, byte[] body) {
        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** An HTTP/1.1 connection driven by hand, for requests HttpClient will not send. */
    static final class RawConnection implements AutoCloseable {
        final Socket socket;
        final OutputStream out;
        final InputStream in;

        RawConnection(InetSocketAddress address) throws IOException {
            this(new Socket(address.getAddress(), address.getPort()));
        }

        /** Over {@code socket}, connected already (a TLS socket, say). */
        RawConnection(Socket socket) throws IOException {
            this.socket = socket;
            socket.setSoTimeout(10_000);
            out = socket.getOutputStream();
            in = socket.getInputStream();
        }

        void write(String s) throws IOException {
            out.write(s.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        RawResponse read() throws IOException {
            String status = line();
            Map<String, String> headers = new LinkedHashMap<>();
            for (String l = line(); !l.isEmpty(); l = line()) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
            int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            byte[] body = in.readNBytes(length);
            return new RawResponse(Integer.parseInt(status.split(" ")[1]), headers, body);
        }

        boolean atEof() throws IOException {
            return in.read() < 0;
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0 && c != '\n') {
                if (c != '\r') {
                    b.write(c);
                }
            }
            if (c < 0 && b.size() == 0) {
                throw new IOException("connection closed");
            }
            return b.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
