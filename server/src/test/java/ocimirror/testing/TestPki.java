package ocimirror.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/** A throw-away CA and certificates made with the openssl CLI, as an operator would. */
public final class TestPki {

    private final Path dir;
    private final Path caCert;
    private final Path caKey;

    private TestPki(Path dir) {
        this.dir = dir;
        this.caCert = dir.resolve("ca.crt");
        this.caKey = dir.resolve("ca.key");
    }

    public static TestPki create(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        TestPki pki = new TestPki(dir);
        Programs.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", pki.caKey.toString(), "-out", pki.caCert.toString(), "-days", "2",
                "-subj", "/CN=ocimirror test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        return pki;
    }

    public Path dir() {
        return dir;
    }

    /** The CA certificate (PEM). */
    public Path caCert() {
        return caCert;
    }

    /**
     * A directory holding only {@code ca.crt}, the CA: what skopeo's {@code --*-cert-dir} and
     * a containerd {@code certs.d/<host>/} directory expect.
     */
    public Path certDir() throws IOException {
        Path d = Files.createDirectories(dir.resolve("cert-dir"));
        Path ca = d.resolve("ca.crt");
        if (!Files.exists(ca)) {
            Files.copy(caCert, ca);
        }
        return d;
    }

    /** A key pair and a CA-signed certificate: {@code name.key} (PKCS#8 PEM) and {@code name.crt}. */
    public record Issued(Path cert, Path key) {
        public X509Certificate certificate() throws Exception {
            try (InputStream in = Files.newInputStream(cert)) {
                return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            }
        }

        public PrivateKey privateKey() throws Exception {
            String pem = Files.readString(key).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        }
    }

    /** A TLS server certificate for {@code san}, e.g. {@code IP:127.0.0.1,DNS:localhost}. */
    public Issued server(String name, String san) throws IOException, InterruptedException {
        return issue(name, "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
    }

    /** A TLS client certificate (mTLS), e.g. for skopeo's {@code --cert-dir} or containerd's {@code client}. */
    public Issued client(String name) throws IOException, InterruptedException {
        return issue(name, "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n");
    }

    /** A certificate for signing JWTs (the registry's rootcertbundle holds the CA). */
    public Issued signer(String name) throws IOException, InterruptedException {
        return issue(name, "keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n");
    }

    private Issued issue(String name, String extensions) throws IOException, InterruptedException {
        Path key = dir.resolve(name + ".key");
        Path csr = dir.resolve(name + ".csr");
        Path crt = dir.resolve(name + ".crt");
        Path ext = dir.resolve(name + ".ext");
        Files.writeString(ext, extensions);
        Programs.run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
        Programs.run("openssl", "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey",
                caKey.toString(), "-CAcreateserial", "-out", crt.toString(), "-days", "2", "-extfile", ext.toString());
        return new Issued(crt, key);
    }
}
