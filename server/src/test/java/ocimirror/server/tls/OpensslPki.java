package ocimirror.server.tls;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import ocimirror.config.pki.Pem;
import ocimirror.testing.Commands;

/** A CA and certificates made with the openssl CLI, as an operator bringing their own PKI would. */
final class OpensslPki {
    final Path dir;
    final Path caCert;
    final Path caKey;

    private OpensslPki(Path dir) {
        this.dir = dir;
        this.caCert = dir.resolve("ca.crt");
        this.caKey = dir.resolve("ca.key");
    }

    static OpensslPki create(Path dir, String cn) throws Exception {
        return create(dir, cn, 3650);
    }

    static OpensslPki create(Path dir, String cn, int days) throws Exception {
        Commands.require("openssl", "openssl");
        Files.createDirectories(dir);
        OpensslPki pki = new OpensslPki(dir);
        Commands.check("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", pki.caKey.toString(), "-out", pki.caCert.toString(), "-days", Integer.toString(days), "-subj", "/CN=" + cn,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        return pki;
    }

    /** A certificate and key, {@code name.crt} and {@code name.key}. */
    record Issued(Path cert, Path key) {
        X509Certificate certificate() throws Exception {
            return Pem.readCertificate(cert);
        }

        PrivateKey privateKey() throws Exception {
            return Pem.readPrivateKey(key);
        }
    }

    Issued server(String name, String san) throws Exception {
        return issue(name, "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
    }

    Issued client(String name) throws Exception {
        return issue(name, "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n");
    }

    private Issued issue(String name, String extensions) throws Exception {
        Path key = dir.resolve(name + ".key");
        Path csr = dir.resolve(name + ".csr");
        Path crt = dir.resolve(name + ".crt");
        Path ext = dir.resolve(name + ".ext");
        Files.writeString(ext, extensions);
        Commands.check("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
        Commands.check("openssl", "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey",
                caKey.toString(), "-CAcreateserial", "-out", crt.toString(), "-days", "2", "-extfile", ext.toString());
        return new Issued(crt, key);
    }
}
