package ocimirror.server.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContext;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import ocimirror.config.TlsConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.ServerCredentials;
import ocimirror.config.pki.ServerNames;
import ocimirror.config.pki.TrustExport;
import ocimirror.testing.Commands;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** A real Netty HTTPS server on loopback with the certificate {@link ServerTls} provides. */
class ServerTlsTest {
    @TempDir
    Path data;

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
        tls = ServerTls.start(config, data, Clock.systemUTC(), provider);
        server = new HttpsTestServer(tls);
        return server.port();
    }

    private String exportedPem() throws IOException {
        return TrustExport.pem(Pem.readCertificate(data.resolve("pki/ca.crt")));
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void aClientTrustingOnlyTheExportedCaConnectsByNameAndAddress(SslProvider provider) throws Exception {
        int port = serve(TlsConfig.defaults(), provider);
        SSLContext client = TlsClients.trusting(exportedPem());

        for (String host : List.of("localhost", "127.0.0.1")) {
            HttpResponse<String> r = TlsClients.get(client, host, port);
            assertEquals(200, r.statusCode());
            assertEquals("ok", r.body());
            assertEquals("TLSv1.3", r.sslSession().orElseThrow().getProtocol());
        }
        assertTrue(Files.exists(data.resolve("pki/ca.key")), "the CA is kept for the next start");
        assertEquals(tls.caCertificate().orElseThrow(), Pem.readCertificate(data.resolve("pki/ca.crt")));
    }

    /** Both key types through both providers: the key reaches the engine through an in-memory JKS store. */
    @ParameterizedTest
    @CsvSource({"OPENSSL, EC_P256", "OPENSSL, RSA_3072", "JDK, EC_P256", "JDK, RSA_3072"})
    void eachKeyAlgorithmServesWithEachProvider(SslProvider provider, KeyAlgorithm algorithm) throws Exception {
        TlsConfig config = new TlsConfig(null, algorithm, null, null, null, null, null, null, null, null);
        int port = serve(config, provider);

        HttpResponse<String> r = TlsClients.get(TlsClients.trusting(exportedPem()), "localhost", port);

        assertEquals(200, r.statusCode());
        String expected = algorithm == KeyAlgorithm.EC_P256 ? "EC" : "RSA";
        assertEquals(expected, r.sslSession().orElseThrow().getPeerCertificates()[0].getPublicKey().getAlgorithm());
    }

    @Test
    void anotherCaIsRefused() throws Exception {
        int port = serve(TlsConfig.defaults(), SslProvider.OPENSSL);
        String other = TrustExport.pem(CertificateAuthority.create(KeyAlgorithm.EC_P256,
                Clock.systemUTC()).certificate());
        IOException e = assertThrows(IOException.class, () -> TlsClients.get(TlsClients.trusting(other), "localhost", port));
        assertTrue(String.valueOf(e.getMessage()).contains("PKIX"), String.valueOf(e));
    }

    @Test
    void openSslFromNettyTcnativeIsWhatServesHere() throws Exception {
        assertTrue(OpenSsl.isAvailable(), "netty-tcnative must load on this machine: " + OpenSsl.unavailabilityCause());
        tls = ServerTls.start(TlsConfig.defaults(), data, Clock.systemUTC());
        assertEquals(SslProvider.OPENSSL, tls.provider());
        assertTrue(tls.context() instanceof OpenSslContext, tls.context().getClass().getName());
        server = new HttpsTestServer(tls);
        HttpResponse<String> r = TlsClients.get(TlsClients.trusting(exportedPem()), "localhost", server.port());
        assertEquals(200, r.statusCode());
        assertTrue(server.handlers.get(0).engine().getClass().getSimpleName().contains("OpenSsl"),
                server.handlers.get(0).engine().getClass().getName());
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void onlyTls12And13WithAeadSuites(SslProvider provider) throws Exception {
        Commands.require("openssl", "openssl");
        int port = serve(TlsConfig.defaults(), provider);
        Files.writeString(data.resolve("ca.pem"), exportedPem());
        String connect = "127.0.0.1:" + port;
        // SECLEVEL=0 lets the client offer TLS 1.1 and CBC suites: the refusal must come from the server.
        Commands.Result tls11 = Commands.run(Duration.ofSeconds(30), "openssl", "s_client", "-connect", connect,
                "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0");
        assertNotEquals(0, tls11.exit(), tls11.output());
        assertTrue(tls11.output().contains("alert protocol version") || tls11.output().contains("unsupported protocol"),
                tls11.output());
        Commands.Result cbc = Commands.run(Duration.ofSeconds(30), "openssl", "s_client", "-connect", connect,
                "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0");
        assertNotEquals(0, cbc.exit(), "no CBC suite: " + cbc.output());
        Commands.Result tls12 = Commands.run(Duration.ofSeconds(30), "openssl", "s_client", "-connect", connect,
                "-tls1_2", "-CAfile", data.resolve("ca.pem").toString(), "-verify_return_error", "-servername", "localhost");
        assertEquals(0, tls12.exit(), tls12.output());
        assertTrue(tls12.output().contains("Protocol  : TLSv1.2") || tls12.output().contains("TLSv1.2"), tls12.output());
        assertTrue(tls12.output().contains("GCM") || tls12.output().contains("CHACHA20"), tls12.output());
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void alpnSelectsHttp11AndDoesNotFailAnH2OnlyClient(SslProvider provider) throws Exception {
        int port = serve(TlsConfig.defaults(), provider);
        SSLContext client = TlsClients.trusting(exportedPem());
        try (TlsClients.Connection c = new TlsClients.Connection(client, port, List.of("h2", "http/1.1"))) {
            assertEquals("http/1.1", c.socket.getApplicationProtocol());
            assertEquals("HTTP/1.1 200 OK", c.get());
        }
        try (TlsClients.Connection c = new TlsClients.Connection(client, port, List.of("h2"))) {
            assertEquals("", c.socket.getApplicationProtocol(), "no protocol agreed, no handshake failure");
            assertEquals("HTTP/1.1 200 OK", c.get());
        }
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void rotatedFilesReachNewHandshakesWhileOpenConnectionsKeepWorking(SslProvider provider) throws Exception {
        int port = serve(TlsConfig.defaults(), provider);
        SSLContext client = TlsClients.trusting(exportedPem());
        try (TlsClients.Connection open = new TlsClients.Connection(client, port, null)) {
            String before = open.serial();
            assertEquals("HTTP/1.1 200 OK", open.get());
            assertFalse(tls.reload(), "nothing changed yet");

            ServerCredentials next = issueFromTheSameCa();
            Pem.writePrivateKey(data.resolve("pki/server.key"), next.privateKey());
            Pem.writeCertificates(data.resolve("pki/server.crt"), next.chain());
            assertTrue(tls.reload());

            String after = next.leaf().getSerialNumber().toString(16);
            assertNotEquals(before, after);
            assertEquals(after, TlsClients.serial(TlsClients.get(client, "localhost", port)));
            assertEquals(after, tls.credentials().leaf().getSerialNumber().toString(16));
            assertEquals("HTTP/1.1 200 OK", open.get(), "the connection opened before the rotation still works");
            assertEquals(before, open.serial());
        }
    }

    @Test
    void aHalfWrittenPairKeepsTheOldCertificateUntilTheOtherFileArrives() throws Exception {
        int port = serve(TlsConfig.defaults(), SslProvider.OPENSSL);
        SSLContext client = TlsClients.trusting(exportedPem());
        String before = TlsClients.serial(TlsClients.get(client, "localhost", port));

        ServerCredentials next = issueFromTheSameCa();
        Pem.writePrivateKey(data.resolve("pki/server.key"), next.privateKey()); // the key first, as the PKI writes
        assertFalse(tls.reload());
        assertFalse(tls.reload(), "retried, still not loadable");
        assertEquals(before, TlsClients.serial(TlsClients.get(client, "localhost", port)));

        Pem.writeCertificates(data.resolve("pki/server.crt"), next.chain());
        assertTrue(tls.reload());
        assertEquals(next.leaf().getSerialNumber().toString(16), TlsClients.serial(TlsClients.get(client, "localhost", port)));
    }

    @Test
    void theWatcherPicksUpAChangeOnItsOwn() throws Exception {
        int port = serve(TlsConfig.defaults(), SslProvider.OPENSSL);
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        try {
            tls.watch(scheduler, Duration.ofMillis(50));
            ServerCredentials next = issueFromTheSameCa();
            Pem.writePrivateKey(data.resolve("pki/server.key"), next.privateKey());
            Pem.writeCertificates(data.resolve("pki/server.crt"), next.chain());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!tls.credentials().leaf().equals(next.leaf()) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(next.leaf(), tls.credentials().leaf());
            assertEquals(next.leaf().getSerialNumber().toString(16),
                    TlsClients.serial(TlsClients.get(TlsClients.trusting(exportedPem()), "localhost", port)));
        } finally {
            scheduler.shutdownNow();
        }
    }

    private ServerCredentials issueFromTheSameCa() throws IOException {
        CertificateAuthority ca = CertificateAuthority.load(data.resolve("pki/ca.crt"), data.resolve("pki/ca.key"),
                Clock.systemUTC());
        return ca.issueServer(ServerNames.withDefaults(List.of()));
    }

    @Test
    void offIsNotStarted() {
        assertThrows(IllegalArgumentException.class, () -> ServerTls.start(TlsConfig.off(), data, Clock.systemUTC()));
    }

    @Test
    void handlersComeFromTheCurrentContext() throws Exception {
        tls = ServerTls.start(TlsConfig.defaults(), data, Clock.systemUTC(), SslProvider.JDK);
        var h = tls.newHandler(ByteBufAllocator.DEFAULT);
        assertFalse(h.engine().getUseClientMode());
        assertEquals(List.of("TLSv1.2", "TLSv1.3"), List.of(h.engine().getEnabledProtocols()).stream().sorted().toList());
        for (String suite : h.engine().getEnabledCipherSuites()) {
            assertTrue(SslContexts.CIPHERS.contains(suite), suite);
        }
    }
}
