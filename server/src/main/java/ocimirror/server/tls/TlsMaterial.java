package ocimirror.server.tls;

import static java.util.Objects.requireNonNull;

import java.security.cert.X509Certificate;
import java.util.List;
import ocimirror.config.pki.ServerCredentials;

/**
 * What one SSL context is built from.
 *
 * @param credentials the server key and chain
 * @param clientCas   the CAs client certificates must chain to; empty without mTLS
 */
record TlsMaterial(ServerCredentials credentials, List<X509Certificate> clientCas) {
    TlsMaterial {
        requireNonNull(credentials, "credentials");
        clientCas = List.copyOf(clientCas);
    }
}
