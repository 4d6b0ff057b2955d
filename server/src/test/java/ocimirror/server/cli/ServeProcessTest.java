package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.storage.oci.Digest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ocimirror serve} as its own process, stopped by SIGTERM: while an upload is half sent (and
 * stays so past the grace period), it must exit by itself, release RocksDB, and leave nothing
 * half-written that a restart would serve; while a large blob is being read slowly, the reader gets
 * every byte before the process exits. This is the only way to see the shutdown hook run for real.
 * Also: without {@code --plain-http} it serves HTTPS with the CA it generated, and logs how to
 * export it.
 */
class ServeProcessTest {
    private static final Pattern LISTENING = Pattern.compile("serving on /127\\.0\\.0\\.1:(\\d+)");
    private static final Duration START_DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    private Process process;

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void sigtermMidUploadExitsCleanlyAndLeavesNoPartialBlob() throws Exception {
        Path data = dir.resolve("data");
        byte[] kept = new byte[64 * 1024];
        new Random(7).nextBytes(kept);
        Digest keptDigest = Digest.sha256(kept);
        // The upload never completes: the grace period runs out and it is cut.
        Path config = Files.writeString(dir.resolve("mirror.yaml"), "hosted: [local]\nshutdown: {gracePeriod: 1s}\n");

        int port = start(data, dir.resolve("first.log"), true, "--config", config.toString());
        HttpClient client = HttpClient.newHttpClient();
        HttpResponse<String> put = client.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/v2/local/app/blobs/uploads/?digest=" + keptDigest))
                .POST(HttpRequest.BodyPublishers.ofByteArray(kept)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());

        byte[] partial = new byte[4 << 20];
        new Random(8).nextBytes(partial);
        Digest partialDigest = Digest.sha256(partial);
        try (Socket upload = new Socket("127.0.0.1", port)) {
            OutputStream out = upload.getOutputStream();
            out.write(("POST /v2/local/app/blobs/uploads/?digest=" + partialDigest + " HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Type: application/octet-stream\r\nContent-Length: " + partial.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(partial, 0, partial.length / 2);
            out.flush();
            waitForIngest(data);

            process.destroy(); // SIGTERM
            assertTrue(process.waitFor(40, TimeUnit.SECONDS), "serve did not exit after SIGTERM");
        }
        String log = Files.readString(dir.resolve("first.log"));
        assertTrue(log.contains("registry stopped"), "no clean stop in the log:\n" + log);
        assertTrue(log.contains("shutdown grace period (1s) over: cutting "), log);
        assertEquals(143, process.exitValue(), "exit status after SIGTERM");

        // The restart opens the same RocksDB (so the lock was released) and wipes the ingest.
        int again = start(data, dir.resolve("second.log"));
        try (Stream<Path> ingest = Files.list(data.resolve("ingest"))) {
            assertEquals(0, ingest.count(), "ingest/ not cleaned at start-up");
        }
        HttpResponse<byte[]> served = client.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + again + "/v2/local/app/blobs/" + keptDigest)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, served.statusCode());
        assertArrayEquals(kept, served.body());
        HttpResponse<byte[]> missing = client.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + again + "/v2/local/app/blobs/" + partialDigest)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(404, missing.statusCode());
        assertTrue(Files.notExists(data.resolve("blobs/sha256/" + partialDigest.hex().substring(0, 2)
                + "/" + partialDigest.hex())), "a half-sent blob was committed");
    }

    @Test
    void sigtermMidDownloadLetsTheReaderFinishThenExits() throws Exception {
        Path data = dir.resolve("data");
        byte[] blob = new byte[40 << 20];
        new Random(9).nextBytes(blob);
        Digest digest = Digest.sha256(blob);
        int port = start(data, dir.resolve("first.log")); // the default grace period: 30 s
        HttpClient client = HttpClient.newHttpClient();
        HttpResponse<String> put = client.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/v2/local/app/blobs/uploads/?digest=" + digest))
                .POST(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());

        try (Socket reader = new Socket()) {
            reader.setReceiveBufferSize(64 * 1024); // the server cannot push 40 MiB ahead of the reader
            reader.setSoTimeout(30_000);
            reader.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            reader.getOutputStream().write(("GET /v2/local/app/blobs/" + digest + " HTTP/1.1\r\nHost: x\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = reader.getInputStream();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200"), head);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long got = read(in, sha, 1 << 20);

            process.destroy(); // SIGTERM, mid-transfer
            awaitLog(dir.resolve("first.log"), "draining ");
            while (got < blob.length) {
                long n = read(in, sha, Math.min(4 << 20, blob.length - got));
                assertTrue(n > 0, "the download was cut after " + got + " bytes");
                got += n;
                Thread.sleep(20);
            }
            assertEquals(digest.hex(), HexFormat.of().formatHex(sha.digest()), "every byte, the right ones");
            assertEquals(-1, in.read(), "closed after the last response");
            assertTrue(process.waitFor(40, TimeUnit.SECONDS), "serve did not exit after SIGTERM");
        }
        String log = Files.readString(dir.resolve("first.log"));
        // How many are counted at that instant depends on the scheduling (the upload's answer may not be done yet).
        assertTrue(Pattern.compile("draining \\d+ connection\\(s\\), [12] request\\(s\\) in flight, waiting up to 30s")
                .matcher(log).find(), log);
        assertTrue(log.contains(": every request in flight finished"), log);
        assertTrue(log.contains("registry stopped"), log);
        assertEquals(143, process.exitValue(), "exit status after SIGTERM");

        // The restart opens the same store, and the blob is whole.
        int again = start(data, dir.resolve("second.log"));
        HttpResponse<byte[]> served = client.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + again + "/v2/local/app/blobs/" + digest)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, served.statusCode());
        assertEquals(digest, Digest.sha256(served.body()));
    }

    @Test
    void byDefaultServeSpeaksHttpsWithAGeneratedCaAndSaysHowToExportIt() throws Exception {
        Path data = dir.resolve("data");
        int port = start(data, dir.resolve("https.log"), false);
        String log = Files.readString(dir.resolve("https.log"));
        Path caFile = data.resolve("pki/ca.crt").toAbsolutePath();
        X509Certificate ca = Pem.readCertificate(caFile);
        String fingerprint = CertificateAuthority.fingerprint(ca);
        assertTrue(log.contains("TLS: created the CA " + ca.getSubjectX500Principal()) && log.contains(fingerprint)
                && log.contains(caFile.toString())
                && log.contains("ocimirror ca export --format pem --data " + data.toAbsolutePath()),
                "the start-up log names the CA, its fingerprint and the export command:\n" + log);
        assertTrue(log.contains("(https, "), log);

        // A client that trusts exactly that CA talks to it; one that does not, cannot.
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("mirror", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        HttpClient trusting = HttpClient.newBuilder().sslContext(ssl).build();
        HttpResponse<String> r = trusting.send(HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/v2/"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals("registry/2.0", r.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());
        assertThrows(SSLHandshakeException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("https://localhost:" + port + "/v2/")).build(), HttpResponse.BodyHandlers.ofString()));
    }

    /** Starts {@code serve --plain-http} on an ephemeral port from the test class path; returns the port. */
    private int start(Path data, Path logFile) throws IOException, InterruptedException {
        return start(data, logFile, true);
    }

    private int start(Path data, Path logFile, boolean plainHttp, String... more)
            throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "serve", "--listen", "127.0.0.1:0", "--no-warmup", "--data", data.toString()));
        if (plainHttp) {
            cmd.add("--plain-http");
        }
        cmd.addAll(List.of(more));
        process = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(logFile.toFile())
                .start();
        long deadline = System.nanoTime() + START_DEADLINE.toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = LISTENING.matcher(Files.readString(logFile));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            if (!process.isAlive()) {
                break;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("serve did not start:\n" + Files.readString(logFile));
    }

    /** Waits (bounded) until {@code logFile} contains {@code text}. */
    private static void awaitLog(Path logFile, String text) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (Files.readString(logFile).contains(text)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no '" + text + "' in the log:\n" + Files.readString(logFile));
    }

    /** Reads up to {@code max} bytes (fewer at the end of the stream) into {@code sha}. */
    private static long read(InputStream in, MessageDigest sha, long max) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        while (total < max) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, max - total));
            if (n < 0) {
                break;
            }
            sha.update(buf, 0, n);
            total += n;
        }
        return total;
    }

    /** The status line and headers of a response. */
    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed in the response head: " + head);
            }
            head.append((char) c);
        }
        return head.toString();
    }

    /** Waits (bounded) until the half-sent upload has bytes on disk, so SIGTERM hits it mid-flight. */
    private static void waitForIngest(Path data) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            try (Stream<Path> files = Files.list(data.resolve("ingest"))) {
                if (files.anyMatch(p -> p.toFile().length() > 0)) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the upload never reached the ingest area");
    }
}
