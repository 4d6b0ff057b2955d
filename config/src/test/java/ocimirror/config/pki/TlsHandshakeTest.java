package ocimirror.config.pki;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A real TLS handshake on loopback: a JDK server with the issued chain, a JDK client that trusts
 * only the exported PEM and verifies the host name as an HTTPS client does.
 */
class TlsHandshakeTest {
    @TempDir
    Path tmp;

    private ExecutorService acceptor;
    private SSLServerSocket server;

    @BeforeEach
    void start() {
        acceptor = Executors.newSingleThreadExecutor();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        acceptor.shutdownNow();
        assertTrue(acceptor.awaitTermination(10, TimeUnit.SECONDS));
    }

    @ParameterizedTest
    @EnumSource(KeyAlgorithm.class)
    void aClientTrustingTheExportedPemConnectsByNameAndByAddress(KeyAlgorithm alg) throws Exception {
        Path pki = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(pki, alg, Clock.systemUTC());
        ServerCredentials creds = ca.loadOrIssueServer(pki, ServerNames.withDefaults(List.of())).credentials();
        int port = serve(creds, 2);
        SSLContext client = clientTrusting(TrustExport.pem(ca.certificate()));

        assertEquals("pong localhost", exchange(client, port, "localhost"));
        assertEquals("pong 127.0.0.1", exchange(client, port, "127.0.0.1"));
    }

    @ParameterizedTest
    @EnumSource(KeyAlgorithm.class)
    void anotherCaOrAnUncoveredNameIsRefused(KeyAlgorithm alg) throws Exception {
        Path pki = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(pki, alg, Clock.systemUTC());
        ServerCredentials creds = ca.loadOrIssueServer(pki, ServerNames.withDefaults(List.of())).credentials();
        int port = serve(creds, 2);
        CertificateAuthority other = CertificateAuthority.create(alg, Clock.systemUTC());

        SSLHandshakeException wrongCa = assertThrows(SSLHandshakeException.class,
                () -> exchange(clientTrusting(TrustExport.pem(other.certificate())), port, "localhost"));
        assertTrue(String.valueOf(wrongCa.getMessage()).contains("PKIX"), wrongCa.getMessage());

        SSLHandshakeException wrongName = assertThrows(SSLHandshakeException.class,
                () -> exchange(clientTrusting(TrustExport.pem(ca.certificate())), port, "not-covered.example"));
        assertTrue(String.valueOf(wrongName.getMessage()).contains("not-covered.example"), wrongName.getMessage());
    }

    /** Serves {@code connections} connections: reads a line and answers "pong " and the line. */
    private int serve(ServerCredentials creds, int connections) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        char[] pw = "x".toCharArray();
        ks.setKeyEntry("server", creds.privateKey(), pw, creds.chainArray());
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        server = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 10, InetAddress.getLoopbackAddress());
        server.setSoTimeout(20_000);
        server.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
        SSLServerSocket s = server;
        Future<?> ignored = acceptor.submit(() -> {
            for (int i = 0; i < connections; i++) {
                try (Socket c = s.accept()) {
                    c.setSoTimeout(20_000);
                    String line = readLine(c.getInputStream());
                    OutputStream out = c.getOutputStream();
                    out.write(("pong " + line + "\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                } catch (IOException e) {
                    // A refused handshake ends here; the client side asserts on it.
                }
            }
            return null;
        });
        return server.getLocalPort();
    }

    private static SSLContext clientTrusting(String pem) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int i = 0;
        for (X509Certificate c : Pem.parseCertificates(pem, "exported pem")) {
            ts.setCertificateEntry("ca" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    /** Connects to 127.0.0.1:port but verifies the certificate against {@code hostName}. */
    private static String exchange(SSLContext client, int port, String hostName) throws IOException {
        Socket plain = new Socket();
        plain.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
        plain.setSoTimeout(20_000);
        try (SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket(plain, hostName, port, true)) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            s.getOutputStream().write((hostName + "\n").getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
            return readLine(s.getInputStream());
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            sb.append((char) b);
        }
        return sb.toString();
    }
}
