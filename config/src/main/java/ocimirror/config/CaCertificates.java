package ocimirror.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/** Reads an upstream's {@code caCert}: one or more PEM (or DER) X.509 certificates. */
public final class CaCertificates {

    private CaCertificates() {
    }

    /**
     * @throws IllegalArgumentException naming the file if it cannot be read, does not parse, or
     *                                  holds no certificate
     */
    public static List<X509Certificate> read(Path file) {
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(file)) {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            cf.generateCertificates(in).forEach(c -> out.add((X509Certificate) c));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read caCert " + file + ": " + e, e);
        } catch (CertificateException e) {
            throw new IllegalArgumentException("caCert " + file + " is not a PEM certificate file: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("caCert " + file + " is not a PEM certificate file: no certificate in it");
        }
        return List.copyOf(out);
    }
}
