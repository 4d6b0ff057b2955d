package ocimirror.server.upstream;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** Client TLS for an upstream: the JDK's trust (what the operator's JVM trusts) plus the upstream's own CA. */
final class UpstreamTls {

    private UpstreamTls() {
    }

    /**
     * A client context trusting the system roots and, if {@code caCert} is not null, every
     * certificate in that PEM file. The certificate must name the host
     * connected to (each handler is created with the peer's host).
     *
     * @throws IllegalArgumentException naming the file if it cannot be read or holds no certificate
     */
    static SslContext clientContext(Path caCert) {
        try {
            // OpenSSL (BoringSSL) where it loaded, as the server side: every cold byte is decrypted
            // here, and the JDK's engine cost several times the CPU per GiB.
            SslContextBuilder b = SslContextBuilder.forClient()
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .endpointIdentificationAlgorithm("HTTPS");
            if (caCert != null) {
                b.trustManager(systemPlus(caCert));
            }
            return b.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build the upstream TLS context: " + e.getMessage(), e);
        }
    }

    static TrustManagerFactory systemPlus(Path caCert) {
        try {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (X509Certificate c : systemTrust().getAcceptedIssuers()) {
                ks.setCertificateEntry("system-" + i++, c);
            }
            Collection<? extends Certificate> extra;
            try (InputStream in = Files.newInputStream(caCert)) {
                extra = CertificateFactory.getInstance("X.509").generateCertificates(in);
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalArgumentException("cannot read caCert " + caCert + ": " + e.getMessage(), e);
            }
            if (extra.isEmpty()) {
                throw new IllegalArgumentException("caCert " + caCert + " holds no PEM certificate");
            }
            int j = 0;
            for (Certificate c : extra) {
                ks.setCertificateEntry("upstream-ca-" + j++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            return tmf;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a trust store: " + e.getMessage(), e);
        }
    }

    private static X509TrustManager systemTrust() throws GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init((KeyStore) null);
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509TrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("the JDK has no X509TrustManager");
    }
}
