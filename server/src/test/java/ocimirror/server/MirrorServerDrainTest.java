package ocimirror.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import ocimirror.config.MirrorConfig;
import ocimirror.config.ObservabilityConfig;
import ocimirror.config.TlsConfig;
import ocimirror.storage.oci.Digest;
import ocimirror.testing.ServeProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link MirrorServer#close()} as a graceful stop, on real loopback sockets: a blob download and an
 * upload in flight finish, idle keep-alive connections are closed at once, new connections are
 * refused, {@code /readyz} says 503 meanwhile; a client that never reads is cut when the grace
 * period is over, and close returns. Outcomes only: no test measures how long anything took
 * (the bounds on waits only keep a hung test from hanging the build).
 */
class MirrorServerDrainTest {
    private static final int BLOB = 40 << 20;
    private static final Pattern LENGTH = Pattern.compile("\ncontent-length: (\\d+)");

    @TempDir
    Path dir;
    MirrorServer server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private MirrorServer start(Duration grace, boolean admin) throws Exception {
        MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), dir.resolve("data"), null, null)
                .withTls(TlsConfig.off())
                .withShutdown(new MirrorConfig.Shutdown(grace));
        if (admin) {
            config = config.withObservability(new ObservabilityConfig(new ObservabilityConfig.Metrics(true,
                    new MirrorConfig.Listen("127.0.0.1", 0), null), null));
        }
        server = MirrorServer.start(config);
        return server;
    }

    @Test
    void aDownloadInFlightFinishesWhileIdleConnectionsCloseAndNewOnesAreRefused() throws Exception {
        start(Duration.ofSeconds(60), true);
        byte[] blob = random(BLOB, 1);
        Digest digest = push(blob);
        String admin = "http://127.0.0.1:" + server.adminAddress().getPort();
        assertEquals(200, get(admin + "/readyz").statusCode());

        try (Socket slow = slowSocket(); Socket idle = connect()) {
            // The idle connection has been used once and is kept alive.
            send(idle, "GET /v2/ HTTP/1.1\r\nHost: mirror\r\n\r\n");
            String idleHead = readHead(idle.getInputStream());
            assertTrue(idleHead.startsWith("HTTP/1.1 200"), idleHead);
            idle.getInputStream().readNBytes(contentLength(idleHead));

            send(slow, "GET /v2/local/app/blobs/" + digest + " HTTP/1.1\r\nHost: mirror\r\n\r\n");
            InputStream in = slow.getInputStream();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200"), head);
            assertEquals(BLOB, contentLength(head));
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long got = read(in, sha, 1 << 20);

            CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
            awaitRefused(server.localAddress().getPort());
            assertEquals(-1, idle.getInputStream().read(), "the idle keep-alive connection is closed by the server");
            assertFalse(closing.isDone(), "close waits for the download in flight");
            // While it drains: not ready (the admin listener stays open for the probes), but alive.
            assertEquals(503, get(admin + "/readyz").statusCode());
            assertEquals(200, get(admin + "/healthz").statusCode());

            // The rest, in pieces with pauses: the transfer spans the drain.
            while (got < BLOB) {
                long n = read(in, sha, Math.min(4 << 20, BLOB - got));
                assertTrue(n > 0, "the download was cut after " + got + " bytes");
                got += n;
                Thread.sleep(20);
            }
            assertEquals(digest.hex(), HexFormat.of().formatHex(sha.digest()), "every byte, the right ones");
            assertEquals(-1, in.read(), "the connection is closed after the last response");
            closing.get(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void anUploadInFlightIsCompletedAndItsAnswerSaysConnectionClose() throws Exception {
        start(Duration.ofSeconds(60), false);
        byte[] blob = random(4 << 20, 2);
        Digest digest = Digest.sha256(blob);
        CompletableFuture<Void> closing;
        try (Socket upload = connect(); Socket idle = connect()) {
            send(idle, "GET /v2/ HTTP/1.1\r\nHost: mirror\r\n\r\n");
            idle.getInputStream().readNBytes(contentLength(readHead(idle.getInputStream())));
            OutputStream out = upload.getOutputStream();
            out.write(("POST /v2/local/app/blobs/uploads/?digest=" + digest + " HTTP/1.1\r\nHost: mirror\r\n"
                    + "Content-Type: application/octet-stream\r\nContent-Length: " + blob.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(blob, 0, blob.length / 2);
            out.flush();
            // The server has the request (a request still in the socket buffer is not in flight yet).
            ServeProcess.awaitIngest(dir.resolve("data"), 1, Duration.ofSeconds(20));

            closing = CompletableFuture.runAsync(server::close);
            // Once the idle connection is gone, the drain has begun.
            assertEquals(-1, idle.getInputStream().read());
            assertFalse(closing.isDone(), "close waits for the upload in flight");
            out.write(blob, blob.length / 2, blob.length - blob.length / 2);
            out.flush();
            String head = readHead(upload.getInputStream());
            assertTrue(head.startsWith("HTTP/1.1 201"), head);
            assertTrue(head.contains("\r\nconnection: close\r\n"), "an answer written while draining: " + head);
            closing.get(60, TimeUnit.SECONDS);
        }
        // What was uploaded during the drain was committed, and a restart serves it.
        start(Duration.ofSeconds(1), false);
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(base() + "/v2/local/app/blobs/" + digest))
                .build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        assertArrayEquals(blob, r.body());
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1000})
    void aClientThatNeverReadsIsCutWhenTheGracePeriodIsOverAndCloseReturns(long graceMillis) throws Exception {
        start(Duration.ofMillis(graceMillis), false);
        byte[] blob = random(BLOB, 3);
        Digest digest = push(blob);
        try (Socket stuck = slowSocket()) {
            send(stuck, "GET /v2/local/app/blobs/" + digest + " HTTP/1.1\r\nHost: mirror\r\n\r\n");
            InputStream in = stuck.getInputStream();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200"), head);

            CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
            closing.get(30, TimeUnit.SECONDS); // hang detection only: close must return by itself
            long got = 0;
            try {
                got = read(in, null, BLOB);
            } catch (SocketException reset) {
                // cut hard: fine, as long as it is cut
            }
            assertTrue(got < BLOB, "the stuck client cannot have been sent everything: " + got);
            assertTrue(readsEnd(in), "the stuck client's connection is closed");
        }
    }

    // --- helpers

    private String base() {
        return "http://127.0.0.1:" + server.localAddress().getPort();
    }

    private Digest push(byte[] blob) throws Exception {
        Digest digest = Digest.sha256(blob);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base()
                        + "/v2/local/app/blobs/uploads/?digest=" + digest))
                .POST(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, r.statusCode(), r.body());
        return digest;
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Waits (bounded) until connecting to {@code port} is refused: the listener is closed. */
    private static void awaitRefused(int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            } catch (ConnectException refused) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("new connections were still accepted after close began");
    }

    private Socket connect() throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(20_000);
        s.connect(server.localAddress(), 5000);
        return s;
    }

    /** A socket with a small receive window, so that the server cannot push a large body into it all at once. */
    private Socket slowSocket() throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(64 * 1024);
        s.setSoTimeout(20_000);
        s.connect(server.localAddress(), 5000);
        return s;
    }

    private static void send(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
    }

    /** Reads up to {@code max} bytes (fewer at the end of the stream), hashing them into {@code sha} if given. */
    private static long read(InputStream in, MessageDigest sha, long max) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        while (total < max) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, max - total));
            if (n < 0) {
                break;
            }
            if (sha != null) {
                sha.update(buf, 0, n);
            }
            total += n;
        }
        return total;
    }

    private static boolean readsEnd(InputStream in) {
        try {
            return in.read() == -1;
        } catch (IOException reset) {
            return true;
        }
    }

    /** The status line and headers, header names lower-cased. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed in the response head: " + head);
            }
            head.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1
                    : 0;
        }
        String[] lines = head.toString(StandardCharsets.US_ASCII).split("\r\n", -1);
        StringBuilder b = new StringBuilder(lines[0]);
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            b.append("\r\n").append(colon < 0 ? lines[i]
                    : lines[i].substring(0, colon).toLowerCase(Locale.ROOT) + lines[i].substring(colon));
        }
        return b.toString();
    }

    private static int contentLength(String head) {
        Matcher m = LENGTH.matcher(head);
        assertTrue(m.find(), "no content-length in " + head);
        return Integer.parseInt(m.group(1));
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }
}
