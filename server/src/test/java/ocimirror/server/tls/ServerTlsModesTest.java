package ocimirror.server.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLContext;
import ocimirror.config.TlsConfig;
import ocimirror.config.TlsConfig.ClientAuth;
import ocimirror.config.TlsConfig.Mode;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.TrustExport;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Client certificates, the {@code files} modes and renewal. */
class ServerTlsModesTest {
    @TempDir
    Path tmp;

    private ServerTls tls;
    private HttpsTestServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        if (tls != null) {
            tls.close();
        }
    }

    private int serve(TlsConfig config, SslProvider provider) throws Exception {
        tls = ServerTls.start(config, tmp.resolve("data"), Clock.systemUTC(), provider);
        server = new HttpsTestServer(tls);
        return server.port();
    }

    private String generatedCaPem() throws IOException {
        return TrustExport.pem(Pem.readCertificate(tmp.resolve("data/pki/ca.crt")));
    }

    private static TlsConfig mtls(Path clientCa, ClientAuth auth) {
        return new TlsConfig(null, null, null, null, null, null, null, null, clientCa, auth);
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void requiredClientCertificatesMustChainToTheClientCa(SslProvider provider) throws Exception {
        OpensslPki clients = OpensslPki.create(tmp.resolve("clients"), "client CA");
        OpensslPki.Issued node = clients.client("node-1");
        OpensslPki.Issued stranger = OpensslPki.create(tmp.resolve("other"), "other CA").client("stranger");
        int port = serve(mtls(clients.caCert, ClientAuth.REQUIRE), provider);
        String trust = generatedCaPem();

        SSLContext withCert = TlsClients.context(trust, node.privateKey(), new X509Certificate[] {node.certificate()});
        assertEquals(200, TlsClients.get(withCert, "localhost", port).statusCode());

        assertThrows(IOException.class, () -> TlsClients.get(TlsClients.trusting(trust), "localhost", port),
                "no client certificate");
        SSLContext wrongCa = TlsClients.context(trust, stranger.privateKey(), new X509Certificate[] {stranger.certificate()});
        assertThrows(IOException.class, () -> TlsClients.get(wrongCa, "localhost", port), "a certificate of another CA");
    }

    @Test
    void optionalClientCertificatesAreCheckedWhenSent() throws Exception {
        OpensslPki clients = OpensslPki.create(tmp.resolve("clients"), "client CA");
        OpensslPki.Issued stranger = OpensslPki.create(tmp.resolve("other"), "other CA").client("stranger");
        int port = serve(mtls(clients.caCert, ClientAuth.OPTIONAL), SslProvider.OPENSSL);
        String trust = generatedCaPem();

        assertEquals(200, TlsClients.get(TlsClients.trusting(trust), "localhost", port).statusCode());
        SSLContext wrongCa = TlsClients.context(trust, stranger.privateKey(), new X509Certificate[] {stranger.certificate()});
        assertThrows(IOException.class, () -> TlsClients.get(wrongCa, "localhost", port));
    }

    @Test
    void filesModeServesAGivenCertificateAndReloadsIt() throws Exception {
        OpensslPki pki = OpensslPki.create(tmp.resolve("ops"), "ops CA");
        OpensslPki.Issued first = pki.server("first", "IP:127.0.0.1,DNS:localhost");
        Path crt = tmp.resolve("tls.crt");
        Path key = tmp.resolve("tls.key");
        Files.copy(first.cert(), crt);
        Files.copy(first.key(), key);
        int port = serve(new TlsConfig(Mode.FILES, null, null, crt, key, pki.caCert, null, null, null, null),
                SslProvider.OPENSSL);
        SSLContext client = TlsClients.trusting(Files.readString(pki.caCert));

        assertEquals(first.certificate().getSerialNumber().toString(16),
                TlsClients.serial(TlsClients.get(client, "127.0.0.1", port)));
        assertEquals(2, tls.credentials().chain().size(), "the chain file follows the leaf");
        assertTrue(tls.caCertificate().isEmpty(), "no CA of ours to export");
        assertFalse(Files.exists(tmp.resolve("data/pki")), "files mode generates nothing");

        Files.delete(key); // mid-rotation by a tool that deletes first
        assertFalse(tls.reload());
        assertEquals(first.certificate(), tls.credentials().leaf(), "kept while the key is missing");

        OpensslPki.Issued second = pki.server("second", "IP:127.0.0.1,DNS:localhost");
        Files.copy(second.key(), key, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(second.cert(), crt, StandardCopyOption.REPLACE_EXISTING);
        assertTrue(tls.reload());
        assertEquals(second.certificate().getSerialNumber().toString(16),
                TlsClients.serial(TlsClients.get(client, "localhost", port)));
    }

    @Test
    void filesModeWithAGivenCaIssuesItsOwnCertificateAndFollowsANewCa() throws Exception {
        OpensslPki pki = OpensslPki.create(tmp.resolve("ops"), "ops CA");
        Path caCrt = tmp.resolve("given-ca.crt");
        Path caKey = tmp.resolve("given-ca.key");
        Files.copy(pki.caCert, caCrt);
        Files.copy(pki.caKey, caKey);
        TlsConfig config = new TlsConfig(Mode.FILES, null, List.of("mirror.test"), null, null, null, caCrt, caKey, null, null);
        int port = serve(config, SslProvider.OPENSSL);

        assertEquals(Pem.readCertificate(pki.caCert), tls.caCertificate().orElseThrow());
        assertTrue(tls.credentials().names().dnsNames().contains("mirror.test"));
        assertTrue(Files.exists(tmp.resolve("data/pki/issued/server.crt")));
        SSLContext client = TlsClients.trusting(Files.readString(pki.caCert));
        String serial = TlsClients.serial(TlsClients.get(client, "127.0.0.1", port));
        tls.close();
        tls = ServerTls.start(config, tmp.resolve("data"), Clock.systemUTC(), SslProvider.OPENSSL);
        assertEquals(serial, tls.credentials().leaf().getSerialNumber().toString(16), "reused after a restart");

        OpensslPki next = OpensslPki.create(tmp.resolve("ops2"), "next CA");
        Files.copy(next.caKey, caKey, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(next.caCert, caCrt, StandardCopyOption.REPLACE_EXISTING);
        assertTrue(tls.reload());
        server.close();
        server = new HttpsTestServer(tls);
        assertEquals(200, TlsClients.get(TlsClients.trusting(Files.readString(next.caCert)), "localhost", server.port())
                .statusCode());
        assertEquals(Pem.readCertificate(next.caCert), tls.caCertificate().orElseThrow());
    }

    @Test
    void aCertificateWeIssuedIsRenewedBeforeItExpires() throws Exception {
        MutableClock clock = new MutableClock(Instant.now());
        tls = ServerTls.start(TlsConfig.defaults(), tmp.resolve("data"), clock, SslProvider.OPENSSL);
        X509Certificate first = tls.credentials().leaf();
        assertFalse(tls.reload());

        clock.advance(CertificateAuthority.SERVER_VALIDITY.minus(CertificateAuthority.RENEW_BEFORE).plus(Duration.ofDays(1)));
        assertTrue(tls.reload());
        X509Certificate renewed = tls.credentials().leaf();
        assertNotEquals(first.getSerialNumber(), renewed.getSerialNumber());
        assertTrue(renewed.getNotAfter().after(first.getNotAfter()));
        assertEquals(renewed, Pem.readCertificate(tmp.resolve("data/pki/server.crt")), "saved for the next start");
        assertFalse(tls.reload(), "renewed once");
    }

    @Test
    void aCertificateCappedByItsCaIsNotReissuedOverAndOver() throws Exception {
        OpensslPki pki = OpensslPki.create(tmp.resolve("ops"), "short CA", 40);
        MutableClock clock = new MutableClock(Instant.now());
        tls = ServerTls.start(new TlsConfig(Mode.FILES, null, null, null, null, null, pki.caCert, pki.caKey, null, null),
                tmp.resolve("data"), clock, SslProvider.OPENSSL);
        X509Certificate leaf = tls.credentials().leaf();
        assertEquals(Pem.readCertificate(pki.caCert).getNotAfter(), leaf.getNotAfter(), "capped by the CA");

        clock.advance(Duration.ofDays(15));
        assertFalse(tls.reload(), "a new certificate would end no later");
        assertFalse(tls.reload());
        assertEquals(leaf, tls.credentials().leaf());
    }

    @Test
    void aMissingFileIsNamed() {
        Path crt = tmp.resolve("absent.crt");
        IOException e = assertThrows(IOException.class, () -> ServerTls.start(
                new TlsConfig(Mode.FILES, null, null, crt, tmp.resolve("absent.key"), null, null, null, null, null),
                tmp.resolve("data"), Clock.systemUTC()));
        assertTrue(e.getMessage().contains(crt.toString()), e.getMessage());
    }
}
