package ocimirror.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import ocimirror.config.AuthConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.testing.Commands;
import ocimirror.testing.TlsTrust;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real server with its product defaults (HTTPS, a CA generated under the data directory)
 * and client authentication against an htpasswd file from the real {@code htpasswd -B}: what
 * {@link MirrorServer} wires, seen by the JDK's HTTPS client and a raw TLS socket.
 */
class MirrorServerSecurityTest {
    private static final Duration RELOAD = Duration.ofMillis(100);

    @TempDir
    Path dir;
    Path htpasswd;
    MirrorServer server;
    SSLContext trusting;
    HttpClient client;

    @BeforeEach
    void start() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        htpasswd = dir.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", htpasswd.toString(), "ci", "ci-pw");
        Commands.check("htpasswd", "-B", "-b", htpasswd.toString(), "node", "node-pw");
        server = MirrorServer.start(config(), Clock.systemUTC(), RELOAD);
        trusting = TlsTrust.trusting(dir.resolve("data/pki/ca.crt"));
        client = HttpClient.newBuilder().sslContext(trusting).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private MirrorConfig config() {
        return MirrorConfig.defaults()
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(dir.resolve("data"))
                .withAuth(new AuthConfig(htpasswd, "mirror", Map.of("ci", AuthConfig.Access.PUSH), null));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void theDefaultIsHttpsWithTheCaUnderTheDataDirectoryReusedAfterARestart() throws Exception {
        assertEquals("https", server.scheme());
        X509Certificate first = servedLeaf();
        X509Certificate ca = Pem.readCertificate(dir.resolve("data/pki/ca.crt"));
        first.verify(ca.getPublicKey());
        String fingerprint = CertificateAuthority.fingerprint(ca);
        server.close();

        server = MirrorServer.start(config(), Clock.systemUTC(), RELOAD);
        assertEquals(fingerprint, CertificateAuthority.fingerprint(Pem.readCertificate(dir.resolve("data/pki/ca.crt"))),
                "the CA is kept");
        assertEquals(first.getSerialNumber(), servedLeaf().getSerialNumber(), "and so is the server certificate");
    }

    @Test
    void everyRequestNeedsCredentialsAndPushNeedsPushRights() throws Exception {
        HttpResponse<String> anonymous = send("GET", "/v2/", null);
        assertEquals(401, anonymous.statusCode());
        assertEquals("Basic realm=\"mirror\"", anonymous.headers().firstValue("WWW-Authenticate").orElseThrow());
        assertTrue(anonymous.body().contains("\"UNAUTHORIZED\""), anonymous.body());
        assertEquals(401, send("GET", "/v2/", basic("node", "wrong")).statusCode());
        assertEquals(200, send("GET", "/v2/", basic("node", "node-pw")).statusCode());

        HttpResponse<String> denied = send("POST", "/v2/app/blobs/uploads/", basic("node", "node-pw"));
        assertEquals(403, denied.statusCode());
        assertTrue(denied.body().contains("\"DENIED\""), denied.body());
        assertEquals(202, send("POST", "/v2/app/blobs/uploads/", basic("ci", "ci-pw")).statusCode());
    }

    @Test
    void aRefusedUploadIsNotInvitedToSendItsBody() throws Exception {
        String head = "POST /v2/app/blobs/uploads/?digest=sha256:" + "0".repeat(64) + " HTTP/1.1\r\nHost: x\r\n"
                + "Content-Length: 4\r\nExpect: 100-continue\r\n";
        assertTrue(firstStatusLine(head + basic("node", "node-pw") + "\r\n").startsWith("HTTP/1.1 403 "));
        assertTrue(firstStatusLine(head + "\r\n").startsWith("HTTP/1.1 401 "));
        assertEquals("HTTP/1.1 100 Continue", firstStatusLine(head + basic("ci", "ci-pw") + "\r\n"));
    }

    @Test
    void theHtpasswdFileIsReloadedWithoutARestart() throws Exception {
        assertEquals(401, send("GET", "/v2/", basic("late", "late-pw")).statusCode());
        Commands.check("htpasswd", "-B", "-b", htpasswd.toString(), "late", "late-pw");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int status;
        do {
            Thread.sleep(50);
            status = send("GET", "/v2/", basic("late", "late-pw")).statusCode();
        } while (status != 200 && System.nanoTime() < deadline);
        assertEquals(200, status, "a user added to the file is let in");
    }

    /** The status line the server answers {@code request} with first, over a fresh TLS connection. */
    private String firstStatusLine(String request) throws Exception {
        try (SSLSocket s = (SSLSocket) trusting.getSocketFactory().createSocket("127.0.0.1", server.localAddress().getPort())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
                line.write(b);
            }
            return line.toString(StandardCharsets.US_ASCII).strip();
        }
    }

    private X509Certificate servedLeaf() throws Exception {
        return TlsTrust.servedLeaf(TlsTrust.trusting(dir.resolve("data/pki/ca.crt")), server.localAddress().getPort());
    }

    private HttpResponse<String> send(String method, String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://localhost:" + server.localAddress().getPort() + path))
                .timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (authorization != null) {
            b.header("Authorization", authorization.substring("Authorization: ".length()).strip());
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** An {@code Authorization: Basic ...} header line. */
    private static String basic(String user, String password) {
        return "Authorization: Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                .getBytes(StandardCharsets.UTF_8)) + "\r\n";
    }
}
