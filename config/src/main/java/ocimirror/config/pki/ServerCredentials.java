package ocimirror.config.pki;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a TLS server presents: its private key and its certificate chain, leaf first, then the
 * intermediates and (harmlessly) the CA. The constructor checks the key belongs to the leaf, so
 * a half-rotated pair of files is refused rather than served.
 *
 * <p>With Netty: {@code SslContextBuilder.forServer(c.privateKey(), c.chainArray())}.
 *
 * @param privateKey the leaf's private key
 * @param chain      leaf first; never empty
 */
public record ServerCredentials(PrivateKey privateKey, List<X509Certificate> chain) {

    public ServerCredentials {
        Objects.requireNonNull(privateKey, "privateKey");
        chain = List.copyOf(chain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("empty certificate chain");
        }
        if (!Keys.matches(privateKey, chain.get(0).getPublicKey())) {
            throw new IllegalArgumentException("the private key does not belong to the certificate "
                    + chain.get(0).getSubjectX500Principal());
        }
    }

    /**
     * The {@code files} TLS mode: a certificate file (the leaf, optionally followed by its chain),
     * its key, and an optional separate chain file appended after the certificate file's content.
     *
     * @param chainFile null when the certificate file holds the whole chain (or the leaf alone)
     * @throws IOException naming the file that is missing or malformed, or the pair that does not match
     */
    public static ServerCredentials load(Path certFile, Path keyFile, Path chainFile) throws IOException {
        List<X509Certificate> chain = new ArrayList<>(Pem.readCertificates(certFile));
        if (chainFile != null) {
            chain.addAll(Pem.readCertificates(chainFile));
        }
        PrivateKey key = Pem.readPrivateKey(keyFile);
        if (!Keys.matches(key, chain.get(0).getPublicKey())) {
            throw new IOException(keyFile + ": this private key does not belong to the first certificate in "
                    + certFile + " (" + chain.get(0).getSubjectX500Principal() + ")");
        }
        return new ServerCredentials(key, chain);
    }

    /** The server's own certificate. */
    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** The chain as an array, the shape Netty's and the JDK's APIs take. */
    public X509Certificate[] chainArray() {
        return chain.toArray(X509Certificate[]::new);
    }

    /** When the leaf expires. */
    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /** The names the leaf covers (its DNS and IP subject alternative names). */
    public ServerNames names() {
        return ServerNames.fromCertificate(leaf());
    }
}
