package ocimirror.server.tls;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import ocimirror.config.pki.Pem;

/** JDK clients that trust exactly the given PEM, as a node configured with the exported CA does. */
final class TlsClients {
    private TlsClients() {
    }

    static SSLContext trusting(String pem) throws Exception {
        return context(pem, null, null);
    }

    /** Trusting {@code pem}, presenting {@code chain}/{@code key} when the server asks for a certificate. */
    static SSLContext context(String pem, PrivateKey key, X509Certificate[] chain) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int i = 0;
        for (X509Certificate c : Pem.parseCertificates(pem, "trust")) {
            ts.setCertificateEntry("ca" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        KeyManagerFactory kmf = null;
        if (key != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("client", key, "x".toCharArray(), chain);
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "x".toCharArray());
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : new KeyManager[] {new AlwaysPresent((X509ExtendedKeyManager) kmf.getKeyManagers()[0])},
                tmf.getTrustManagers(), null);
        return ctx;
    }

    /**
     * Presents the certificate whatever CAs the server names, as containerd's {@code client = [...]}
     * does (the JDK's own key manager would quietly send nothing to a server naming another CA).
     */
    private static final class AlwaysPresent extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager delegate;

        AlwaysPresent(X509ExtendedKeyManager delegate) {
            this.delegate = delegate;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return new String[] {"client"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return "client";
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return "client";
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return delegate.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return delegate.getPrivateKey(alias);
        }
    }

    /** GET https://host:port/ with a fresh client (a fresh connection, so a fresh handshake). */
    static HttpResponse<String> get(SSLContext ctx, String host, int port) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        return client.send(HttpRequest.newBuilder(URI.create("https://" + host + ":" + port + "/v2/"))
                .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The serial of the certificate the server presented. */
    static String serial(HttpResponse<?> r) throws Exception {
        X509Certificate leaf = (X509Certificate) r.sslSession().orElseThrow().getPeerCertificates()[0];
        return leaf.getSerialNumber().toString(16);
    }

    /** One kept-alive HTTPS connection, verifying the host name {@code localhost}. */
    static final class Connection implements AutoCloseable {
        final SSLSocket socket;

        Connection(SSLContext ctx, int port, List<String> alpn) throws IOException {
            Socket plain = new Socket();
            plain.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            plain.setSoTimeout(20_000);
            socket = (SSLSocket) ctx.getSocketFactory().createSocket(plain, "localhost", port, true);
            SSLParameters p = socket.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            if (alpn != null) {
                p.setApplicationProtocols(alpn.toArray(String[]::new));
            }
            socket.setSSLParameters(p);
            socket.startHandshake();
        }

        String serial() throws IOException {
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber().toString(16);
        }

        /** Sends a GET and returns the status line, reading the whole response. */
        String get() throws IOException {
            OutputStream out = socket.getOutputStream();
            out.write("GET /v2/ HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String status = line(in);
            int length = 0;
            String h;
            while (!(h = line(in)).isEmpty()) {
                if (h.toLowerCase().startsWith("content-length:")) {
                    length = Integer.parseInt(h.substring(15).trim());
                }
            }
            in.readNBytes(length);
            return status;
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder sb = new StringBuilder();
            int b;
            while ((b = in.read()) != -1 && b != '\n') {
                if (b != '\r') {
                    sb.append((char) b);
                }
            }
            if (b == -1 && sb.length() == 0) {
                throw new IOException("connection closed");
            }
            return sb.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
