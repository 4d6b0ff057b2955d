package ocimirror.e2e;

import static ocimirror.testing.OciAssertions.assertApiVersion;
import static ocimirror.testing.OciAssertions.assertOciError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import ocimirror.testing.OciLayoutBuilder.Blob;
import ocimirror.testing.OciLayoutBuilder.Fixture;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.RawHttp;
import ocimirror.testing.RegistryClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One test per class of hostile or broken input, sent to the running registry over raw
 * sockets or {@link java.net.http.HttpClient}. Each refusal must be a 4xx with an OCI error
 * body and the API version header, and after every test ({@link #serverStillServesACorrectPull})
 * the server must still answer {@code GET /v2/} and serve a correct pull.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class BadInputE2ETest {

    private static final String REPO = "e2e/good";
    private static final String TAG = "v1";
    private static final int MIB = 1024 * 1024;

    @TempDir
    static Path tmp;
    private static Fixture fixture;
    private static TargetRegistry registry;
    private static RegistryClient client;

    @BeforeAll
    static void startRegistryWithAnImage() throws Exception {
        fixture = OciLayoutBuilder.standard(Files.createDirectories(tmp.resolve("layout")));
        registry = TargetRegistry.start(tmp.resolve("registry"));
        client = new RegistryClient(registry.hostPort());
        client.pushImage(REPO, TAG, fixture.single());
    }

    @AfterAll
    static void stopRegistry() {
        if (registry != null) {
            registry.close();
        }
    }

    @AfterEach
    void serverStillServesACorrectPull() {
        HttpResponse<byte[]> ping = client.get("/v2/");
        assertEquals(200, ping.statusCode(), () -> RegistryClient.describe(ping));
        assertApiVersion(ping);
        Blob manifest = fixture.single().manifest();
        HttpResponse<byte[]> m = client.send(client.request("/v2/" + REPO + "/manifests/" + TAG)
                .header("Accept", OciLayoutBuilder.OCI_MANIFEST).GET().build());
        assertEquals(200, m.statusCode(), () -> RegistryClient.describe(m));
        assertArrayEquals(manifest.bytes(), m.body(), "manifest bytes");
        assertEquals(Optional.of(manifest.digest()), m.headers().firstValue("Docker-Content-Digest"));
        for (Blob blob : new Blob[] {fixture.single().config(), smallLayer()}) {
            HttpResponse<byte[]> b = client.get("/v2/" + REPO + "/blobs/" + blob.digest());
            assertEquals(200, b.statusCode(), () -> RegistryClient.describe(b));
            assertArrayEquals(blob.bytes(), b.body(), "blob bytes of " + blob.digest());
        }
    }

    // --- names and references that try to leave the repository ---

    @ParameterizedTest
    @ValueSource(strings = {
        "/v2/../../etc/passwd/manifests/latest",
        "/v2/a/%2e%2e/b/manifests/x",
        "/v2/e2e/good/%2e%2e/%2e%2e/%2e%2e/etc/manifests/latest",
        "/v2/e2e%2F..%2F..%2Fetc/manifests/latest",
        "/v2/e2e/good/manifests/..%2F..%2F..%2Fetc%2Fpasswd",
        "/v2/e2e/good/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd",
        "/v2/e2e/good/blobs/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    })
    void pathTraversalIsRefused(String rawPath) throws IOException {
        // Deliberately stricter than distribution, which answers 301 with the cleaned path:
        // a traversal is a bad name or an unknown route, never a redirect.
        RawHttp.Response r = RawHttp.exchange(registry.hostPort(), RawHttp.get(registry.hostPort(), rawPath))
                .orElseThrow(() -> new AssertionError("closed without a response: " + rawPath));
        assertOciError(r, Set.of(400, 404), Set.of("NAME_INVALID", "NAME_UNKNOWN", "TAG_INVALID",
                "MANIFEST_UNKNOWN", "DIGEST_INVALID", "BLOB_UNKNOWN", "NOT_FOUND"));
    }

    @Test
    void encodedSlashNamesTheSameRepositoryOrIsRefused() throws IOException {
        RawHttp.Response r = RawHttp.exchange(registry.hostPort(), RawHttp.get(registry.hostPort(),
                        "/v2/e2e%2Fgood/manifests/" + TAG, "Accept: " + OciLayoutBuilder.OCI_MANIFEST))
                .orElseThrow();
        if (r.status() == 200) {
            assertArrayEquals(fixture.single().manifest().bytes(), r.body(), "decoded %2F must mean e2e/good");
            assertApiVersion(r);
        } else {
            assertOciError(r, Set.of(400, 404), Set.of("NAME_INVALID", "NAME_UNKNOWN", "MANIFEST_UNKNOWN"));
        }
    }

    // --- digests ---

    static Stream<String> malformedDigests() {
        String hex = smallLayer().digest().substring("sha256:".length());
        return Stream.of("sha256:xyz", "md5:d41d8cd98f00b204e9800998ecf8427e",
                "sha256:" + hex.toUpperCase(Locale.ROOT), "sha256:" + hex.substring(1), "sha256:" + hex + "0");
    }

    @ParameterizedTest
    @MethodSource("malformedDigests")
    void malformedDigestIsRefused(String digest) {
        assertOciError(client.get("/v2/" + REPO + "/blobs/" + digest), Set.of(400), Set.of("DIGEST_INVALID"));

        HttpResponse<byte[]> head = client.send(client.request("/v2/" + REPO + "/blobs/" + digest)
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(400, head.statusCode(), () -> RegistryClient.describe(head));
        assertApiVersion(head);

        URI upload = client.startUpload(REPO);
        assertOciError(client.send(HttpRequest.newBuilder(RegistryClient.withDigest(upload, digest))
                        .header("Content-Type", "application/octet-stream")
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(smallLayer().bytes())).build()),
                Set.of(400), Set.of("DIGEST_INVALID"));

        // Neither a valid tag nor a valid digest. distribution 2.8 answers 500 UNKNOWN here.
        assertOciError(client.send(client.request("/v2/" + REPO + "/manifests/" + digest).GET().build()),
                Set.of(400, 404), Set.of("DIGEST_INVALID", "TAG_INVALID", "MANIFEST_INVALID", "MANIFEST_UNKNOWN"));
    }

    @Test
    void digestThatDoesNotMatchTheBytesIsRefusedAndNothingIsServed() {
        byte[] bytes = random(4096, 1);
        String actual = OciLayoutBuilder.sha256Digest(bytes);
        String claimed = OciLayoutBuilder.sha256Digest(random(4096, 2));

        // Monolithic: POST, then PUT with the body.
        URI upload = client.startUpload(REPO);
        assertOciError(client.send(HttpRequest.newBuilder(RegistryClient.withDigest(upload, claimed))
                        .header("Content-Type", "application/octet-stream")
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)).build()),
                Set.of(400), Set.of("DIGEST_INVALID"));

        // Chunked: PATCH the body, then PUT with no body.
        URI chunked = client.startUpload(REPO);
        HttpResponse<byte[]> patch = client.send(HttpRequest.newBuilder(chunked)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", "0-" + (bytes.length - 1))
                .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(bytes)).build());
        assertEquals(202, patch.statusCode(), () -> RegistryClient.describe(patch));
        assertOciError(client.send(HttpRequest.newBuilder(RegistryClient.withDigest(client.location(patch), claimed))
                        .PUT(HttpRequest.BodyPublishers.noBody()).build()),
                Set.of(400), Set.of("DIGEST_INVALID"));

        for (String digest : new String[] {claimed, actual}) {
            assertOciError(client.get("/v2/" + REPO + "/blobs/" + digest), Set.of(404), Set.of("BLOB_UNKNOWN"));
            HttpResponse<byte[]> head = client.send(client.request("/v2/" + REPO + "/blobs/" + digest)
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
            assertEquals(404, head.statusCode(), () -> RegistryClient.describe(head));
        }
    }

    // --- sizes ---

    @Test
    void manifestOverFourMebibytesIsRefusedAndOneJustUnderIsAccepted() throws IOException {
        byte[] under = paddedManifest(4 * MIB - 4096);
        HttpResponse<byte[]> ok = client.putManifest(REPO, "just-under", OciLayoutBuilder.OCI_MANIFEST, under);
        assertEquals(201, ok.statusCode(), () -> RegistryClient.describe(ok));
        assertArrayEquals(under, client.send(client.request("/v2/" + REPO + "/manifests/just-under")
                .header("Accept", OciLayoutBuilder.OCI_MANIFEST).GET().build()).body());

        byte[] over = paddedManifest(4 * MIB + 1024);
        byte[] request = RawHttp.concat(RawHttp.head("PUT", registry.hostPort(), "/v2/" + REPO + "/manifests/too-big",
                over.length, "Content-Type: " + OciLayoutBuilder.OCI_MANIFEST), over);
        RawHttp.Response r = RawHttp.exchange(registry.hostPort(), request)
                .orElseThrow(() -> new AssertionError("closed without a response"));
        // The spec allows 413; distribution 2.8 answers 400 MANIFEST_INVALID.
        assertOciError(r, Set.of(400, 413), Set.of("SIZE_TOO_LARGE", "MANIFEST_INVALID"));
        assertOciError(client.get("/v2/" + REPO + "/manifests/too-big"), Set.of(404), Set.of("MANIFEST_UNKNOWN"));
    }

    static Stream<String> oversizedOrBrokenRequests() {
        String big = "a".repeat(64 * 1024);
        StringBuilder manyHeaders = new StringBuilder();
        for (int i = 0; i < 4000; i++) {
            manyHeaders.append("X-H").append(i).append(": v\r\n");
        }
        return Stream.of(
                "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\nConnection: close\r\n\r\n",
                "GET /v2/ HTTP/1.1\r\nHost: x\r\n" + manyHeaders + "Connection: close\r\n\r\n",
                "GET /v2/" + big + "/manifests/latest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                "GARBAGE\r\n\r\n",
                "PUT /v2/e2e/good/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                "PUT /v2/e2e/good/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello");
    }

    @ParameterizedTest
    @MethodSource("oversizedOrBrokenRequests")
    void oversizedOrBrokenRequestHeadIsRefusedCleanly(String request) throws IOException {
        // Either a 4xx with an OCI error body, or the connection closed without an answer.
        // distribution (Go's 1 MiB header limit) answers the 64 KiB header with 200, the
        // 64 KiB request line with 500, and its refusals have plain-text bodies; ocimirror's
        // limit is limits.maxHeaderBytes (16 KiB by default).
        Optional<RawHttp.Response> r = RawHttp.exchange(registry.hostPort(), request.getBytes(StandardCharsets.ISO_8859_1));
        r.ifPresent(resp -> assertOciError(resp, Set.of(400, 413, 414, 431), null));
    }

    // --- ranges ---

    static Stream<String> satisfiableRanges() {
        long size = smallLayer().size();
        return Stream.of("bytes=0-99", "bytes=-100", "bytes=" + (size - 10) + "-" + (size + 1000), "bytes=100-");
    }

    @ParameterizedTest
    @MethodSource("satisfiableRanges")
    void satisfiableRangeIsServedPartially(String range) throws IOException {
        Blob blob = smallLayer();
        byte[] all = blob.bytes();
        String spec = range.substring("bytes=".length());
        long first;
        long last;
        if (spec.startsWith("-")) {
            first = all.length - Long.parseLong(spec.substring(1));
            last = all.length - 1;
        } else {
            String[] ends = spec.split("-", -1);
            first = Long.parseLong(ends[0]);
            last = ends[1].isEmpty() ? all.length - 1 : Math.min(Long.parseLong(ends[1]), all.length - 1);
        }
        RawHttp.Response r = rangeGet(blob, range);
        assertEquals(206, r.status(), () -> "got " + r);
        assertEquals(Optional.of("bytes " + first + "-" + last + "/" + blob.size()), r.header("Content-Range"));
        assertArrayEquals(Arrays.copyOfRange(all, (int) first, (int) last + 1), r.body());
        assertApiVersion(r);
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytes=abc", "bytes=5-2", "items=0-5", "bytes=--1", "bytes=0-1,x"})
    void malformedRangeIsIgnoredOrRefused(String range) throws IOException {
        // RFC 9110 lets a server ignore a Range it cannot parse (200, whole body); refusing
        // with 416 is allowed too, but then with an OCI error body. distribution sends 416
        // with a plain-text body and a Content-Length that does not match it.
        Blob blob = smallLayer();
        RawHttp.Response r = rangeGet(blob, range);
        if (r.status() == 200) {
            assertArrayEquals(blob.bytes(), r.body(), "ignored Range must give the whole blob");
            assertApiVersion(r);
        } else {
            assertOciError(r, Set.of(416), Set.of("RANGE_INVALID"));
        }
    }

    @Test
    void unsatisfiableRangeIs416() throws IOException {
        Blob blob = smallLayer();
        RawHttp.Response r = rangeGet(blob, "bytes=" + (blob.size() + 1000) + "-");
        assertOciError(r, Set.of(416), Set.of("RANGE_INVALID"));
        assertEquals(Optional.of("bytes */" + blob.size()), r.header("Content-Range"));
    }

    @Test
    void outOfOrderOrMalformedContentRangeIsRefusedAndTheUploadCanContinue() {
        byte[] bytes = random(300, 3);
        URI upload = client.startUpload(REPO);
        HttpResponse<byte[]> first = patch(upload, "0-99", Arrays.copyOfRange(bytes, 0, 100));
        assertEquals(202, first.statusCode(), () -> RegistryClient.describe(first));
        assertEquals(Optional.of("0-99"), first.headers().firstValue("Range"));
        URI next = client.location(first);

        // The spec: a chunk out of order MUST get 416. distribution 2.8 ignores Content-Range
        // and appends the chunk.
        assertOciError(patch(next, "200-299", Arrays.copyOfRange(bytes, 200, 300)),
                Set.of(416), Set.of("RANGE_INVALID", "BLOB_UPLOAD_INVALID"));
        assertOciError(patch(next, "garbage", Arrays.copyOfRange(bytes, 100, 300)),
                Set.of(400, 416), Set.of("RANGE_INVALID", "BLOB_UPLOAD_INVALID"));

        HttpResponse<byte[]> status = client.send(HttpRequest.newBuilder(next).GET().build());
        assertEquals(204, status.statusCode(), () -> RegistryClient.describe(status));
        assertEquals(Optional.of("0-99"), status.headers().firstValue("Range"), "refused chunks must not count");

        HttpResponse<byte[]> second = patch(next, "100-299", Arrays.copyOfRange(bytes, 100, 300));
        assertEquals(202, second.statusCode(), () -> RegistryClient.describe(second));
        String digest = OciLayoutBuilder.sha256Digest(bytes);
        HttpResponse<byte[]> done = client.send(HttpRequest.newBuilder(
                RegistryClient.withDigest(client.location(second), digest)).PUT(HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(201, done.statusCode(), () -> RegistryClient.describe(done));
        assertArrayEquals(bytes, client.get("/v2/" + REPO + "/blobs/" + digest).body());
    }

    // --- clients that go away ---

    @Test
    void clientThatDisconnectsMidUploadLeavesNoBlobAndTheUploadCanBeRedone() throws IOException {
        byte[] bytes = random(MIB, 4);
        String digest = OciLayoutBuilder.sha256Digest(bytes);

        URI put = RegistryClient.withDigest(client.startUpload(REPO), digest);
        sendHalfAndClose("PUT", put, bytes);
        URI patch = client.startUpload(REPO);
        sendHalfAndClose("PATCH", patch, bytes);

        assertOciError(client.get("/v2/" + REPO + "/blobs/" + digest), Set.of(404), Set.of("BLOB_UNKNOWN"));
        client.pushBlob(REPO, bytes, digest);
        assertArrayEquals(bytes, client.get("/v2/" + REPO + "/blobs/" + digest).body());
    }

    @Test
    void clientThatDisconnectsMidDownloadDoesNotHurtTheNextOne() throws IOException {
        Blob large = largeLayer();
        for (int i = 0; i < 3; i++) {
            try (Socket s = RawHttp.connect(registry.hostPort())) {
                OutputStream out = s.getOutputStream();
                out.write(RawHttp.get(registry.hostPort(), "/v2/" + REPO + "/blobs/" + large.digest()));
                out.flush();
                byte[] buf = new byte[16 * 1024];
                int read = 0;
                InputStream in = s.getInputStream();
                for (int n; read < buf.length && (n = in.read(buf, read, buf.length - read)) > 0; ) {
                    read += n;
                }
                assertTrue(new String(buf, 0, 12, StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 200"));
            } // closed with ~40 MiB unread
        }
        HttpResponse<InputStream> full = client.sendStreaming(client.request("/v2/" + REPO + "/blobs/" + large.digest())
                .GET().build());
        assertEquals(200, full.statusCode());
        try (InputStream body = full.body()) {
            assertEquals(large.digest(), OciLayoutBuilder.sha256Digest(body));
        }
        assertEquals(Optional.of(String.valueOf(large.size())), full.headers().firstValue("Content-Length"));
    }

    // --- helpers ---

    private static Blob smallLayer() {
        return fixture.single().layers().get(0).blob();
    }

    private static Blob largeLayer() {
        return fixture.single().layers().get(2).blob();
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private RawHttp.Response rangeGet(Blob blob, String range) throws IOException {
        return RawHttp.exchange(registry.hostPort(), RawHttp.get(registry.hostPort(),
                        "/v2/" + REPO + "/blobs/" + blob.digest(), "Range: " + range))
                .orElseThrow(() -> new AssertionError("closed without a response for Range " + range));
    }

    private HttpResponse<byte[]> patch(URI upload, String contentRange, byte[] chunk) {
        return client.send(HttpRequest.newBuilder(upload)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", contentRange)
                .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(chunk)).build());
    }

    /** Declares the whole body in Content-Length, sends half of it and closes the socket. */
    private void sendHalfAndClose(String method, URI target, byte[] body) throws IOException {
        String pathAndQuery = target.getRawPath() + (target.getRawQuery() == null ? "" : "?" + target.getRawQuery());
        try (Socket s = RawHttp.connect(registry.hostPort())) {
            OutputStream out = s.getOutputStream();
            out.write(RawHttp.head(method, registry.hostPort(), pathAndQuery, body.length,
                    "Content-Type: application/octet-stream"));
            out.write(body, 0, body.length / 2);
            out.flush();
        }
    }

    /** The good image's manifest with an annotation that pads it to exactly {@code size} bytes. */
    private static byte[] paddedManifest(int size) {
        String base = OciLayoutBuilder.utf8(fixture.single().manifest().bytes());
        String prefix = base.substring(0, base.length() - 1) + ",\"annotations\":{\"pad\":\"";
        String suffix = "\"}}";
        String json = prefix + "x".repeat(size - prefix.length() - suffix.length()) + suffix;
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        assertEquals(size, bytes.length);
        return bytes;
    }
}
