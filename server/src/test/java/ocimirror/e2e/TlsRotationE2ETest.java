package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.InputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServer;
import ocimirror.storage.oci.Digest;
import ocimirror.testing.Programs;
import ocimirror.testing.TestPki;
import ocimirror.testing.TlsTrust;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificate rotation without a restart, as an operator (or cert-manager) does it in TLS
 * {@code files} mode: a new certificate from the same CA, made with the openssl CLI, copied over
 * the files the mirror serves (key first, then certificate, so for a moment they do not match).
 * New handshakes get the new serial; a 40 MiB blob download that started on the old
 * certificate carries on to the last byte with the right digest.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class TlsRotationE2ETest {
    private static final int BLOB_BYTES = 40 * 1024 * 1024;
    private static final String SAN = "IP:127.0.0.1,DNS:localhost";

    @TempDir
    Path tmp;
    private MirrorServer mirror;

    @AfterEach
    void stop() {
        if (mirror != null) {
            mirror.close();
        }
    }

    @BeforeEach
    void requirePrograms() {
        Programs.require("openssl");
    }

    @Test
    void newHandshakesGetTheNewCertificateWhileADownloadInFlightCompletes() throws Exception {
        TestPki pki = TestPki.create(tmp.resolve("pki"));
        TestPki.Issued first = pki.server("mirror-1", SAN);
        Path served = Files.createDirectories(tmp.resolve("served"));
        Path crt = Files.copy(first.cert(), served.resolve("tls.crt"));
        Path key = Files.copy(first.key(), served.resolve("tls.key"));
        MirrorConfig config = MirrorConfig.defaults()
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(tmp.resolve("data"))
                .withTls(new TlsConfig(TlsConfig.Mode.FILES, null, null, crt, key, null, null, null, null, null));
        mirror = MirrorServer.start(config, Clock.systemUTC(), Duration.ofMillis(200));
        int port = mirror.localAddress().getPort();
        SSLContext trust = TlsTrust.trusting(pki.caCert());
        BigInteger firstSerial = first.certificate().getSerialNumber();
        assertEquals(firstSerial, TlsTrust.servedLeaf(trust, port).getSerialNumber());

        byte[] blob = new byte[BLOB_BYTES];
        new SplittableRandom(17).nextBytes(blob);
        Digest digest = Digest.sha256(blob);
        HttpClient client = HttpClient.newBuilder().sslContext(trust).version(HttpClient.Version.HTTP_1_1).build();
        String base = "https://127.0.0.1:" + port + "/v2/local/big/blobs/";
        HttpResponse<String> put = client.send(HttpRequest.newBuilder(URI.create(base + "uploads/?digest=" + digest))
                .POST(HttpRequest.BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());

        HttpResponse<InputStream> download = client.send(HttpRequest.newBuilder(URI.create(base + digest)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, download.statusCode());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long received = 0;
        try (InputStream in = download.body()) {
            byte[] buf = new byte[64 * 1024];
            while (received < 1024 * 1024) {
                int n = in.read(buf);
                if (n < 0) {
                    throw new AssertionError("the body ended after " + received + " bytes");
                }
                sha.update(buf, 0, n);
                received += n;
            }

            // Rotate while most of the blob is still to come (the server waits on this client).
            TestPki.Issued second = pki.server("mirror-2", SAN);
            BigInteger secondSerial = second.certificate().getSerialNumber();
            assertNotEquals(firstSerial, secondSerial);
            Files.copy(second.key(), key, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(second.cert(), crt, StandardCopyOption.REPLACE_EXISTING);
            BigInteger seen = firstSerial;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (!seen.equals(secondSerial) && System.nanoTime() < deadline) {
                Thread.sleep(100);
                seen = TlsTrust.servedLeaf(trust, port).getSerialNumber();
            }
            assertEquals(secondSerial, seen, "a new handshake gets the new certificate");

            for (int n; (n = in.read(buf)) >= 0; ) {
                sha.update(buf, 0, n);
                received += n;
            }
        }
        assertEquals(BLOB_BYTES, received, "the download begun before the rotation got every byte");
        assertEquals(digest.hex(), HexFormat.of().formatHex(sha.digest()));
    }
}
