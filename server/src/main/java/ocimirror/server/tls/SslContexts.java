package ocimirror.server.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLException;
import ocimirror.config.TlsConfig;

/** The server's TLS policy in one place: protocols, cipher suites, ALPN, client certificates. */
final class SslContexts {
    /** TLS 1.0 and 1.1 are deprecated (RFC 8996); every client the mirror serves speaks 1.2 or 1.3. */
    static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    /**
     * AEAD suites with forward secrecy only. Netty's defaults still carry CBC and static-RSA
     * suites for old clients; Go (containerd, Docker, skopeo) and the JDK all speak these.
     * BoringSSL does not let TLS 1.3 suites be chosen (its three are always on): the first three
     * names are for the JDK provider.
     */
    static final List<String> CIPHERS = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    /**
     * Only HTTP/1.1 is served. NO_ADVERTISE: a client offering only h2 gets no ALPN answer and
     * falls back to HTTP/1.1 rather than a failed handshake.
     */
    private static final ApplicationProtocolConfig ALPN = new ApplicationProtocolConfig(
            ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_1_1);

    /**
     * The type of the in-memory key store Netty builds its key manager from. The default,
     * PKCS12, encrypts the key in it with 10 000 rounds of PBKDF2 and decrypts it again, at every
     * start and reload: 100-300 ms of CPU and, through the JIT compiling the hashing on the way,
     * about 14 MiB more peak memory at start. JKS protects it with one SHA-1 pass; the store never
     * leaves the process, so its protection buys nothing either way.
     */
    static final String KEY_STORE_TYPE = "JKS";

    private SslContexts() {
    }

    /** OpenSSL (netty-tcnative's BoringSSL) when it loaded on this machine, else the JDK's TLS. */
    static SslProvider preferredProvider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /** Why OpenSSL is not used, for the start-up log; null when it is available. */
    static String openSslUnavailableReason() {
        Throwable cause = OpenSsl.unavailabilityCause();
        return cause == null ? null : cause.toString();
    }

    static SslContext server(TlsMaterial material, TlsConfig.ClientAuth clientAuth, SslProvider provider)
            throws SSLException {
        SslContextBuilder b = SslContextBuilder.forServer(material.credentials().privateKey(),
                        material.credentials().chainArray())
                .sslProvider(provider)
                .keyStoreType(KEY_STORE_TYPE)
                .protocols(PROTOCOLS)
                .ciphers(CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                .applicationProtocolConfig(ALPN);
        if (clientAuth != TlsConfig.ClientAuth.NONE) {
            b.trustManager(material.clientCas().toArray(X509Certificate[]::new))
                    .clientAuth(clientAuth == TlsConfig.ClientAuth.REQUIRE ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
        }
        return b.build();
    }
}
