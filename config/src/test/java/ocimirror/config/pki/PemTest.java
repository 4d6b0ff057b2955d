package ocimirror.config.pki;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemTest {
    @TempDir
    Path tmp;

    @Test
    void readsAnOpensslEcKeyInSec1FormWithItsParametersBlock() throws Exception {
        OpenSsl.ok(tmp, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.key");
        String pem = Files.readString(tmp.resolve("ec.key"));
        assertTrue(pem.contains("BEGIN EC PARAMETERS") && pem.contains("BEGIN EC PRIVATE KEY"), pem);
        OpenSsl.ok(tmp, "req", "-x509", "-key", "ec.key", "-subj", "/CN=ec.example", "-days", "2", "-out", "ec.crt");

        PrivateKey key = Pem.readPrivateKey(tmp.resolve("ec.key"));
        assertInstanceOf(ECPrivateKey.class, key);
        ServerCredentials c = ServerCredentials.load(tmp.resolve("ec.crt"), tmp.resolve("ec.key"), null);
        assertEquals("CN=ec.example", c.leaf().getSubjectX500Principal().getName());
    }

    @Test
    void readsAnOpensslRsaKeyInPkcs1Form() throws Exception {
        OpenSsl.ok(tmp, "genrsa", "-traditional", "-out", "rsa.key", "2048");
        assertTrue(Files.readString(tmp.resolve("rsa.key")).startsWith("-----BEGIN RSA PRIVATE KEY-----"));
        OpenSsl.ok(tmp, "req", "-x509", "-key", "rsa.key", "-subj", "/CN=rsa.example", "-days", "2", "-out", "rsa.crt");

        PrivateKey key = Pem.readPrivateKey(tmp.resolve("rsa.key"));
        assertInstanceOf(RSAPrivateCrtKey.class, key);
        ServerCredentials c = ServerCredentials.load(tmp.resolve("rsa.crt"), tmp.resolve("rsa.key"), null);
        assertEquals("CN=rsa.example", c.leaf().getSubjectX500Principal().getName());
    }

    @Test
    void anEd25519ServerCertificateLoadsButCannotBeACa() throws Exception {
        OpenSsl.ok(tmp, "genpkey", "-algorithm", "ed25519", "-out", "ed.key");
        OpenSsl.ok(tmp, "req", "-x509", "-key", "ed.key", "-subj", "/CN=ed.example", "-days", "2", "-out", "ed.crt",
                "-addext", "basicConstraints=critical,CA:TRUE");
        ServerCredentials c = ServerCredentials.load(tmp.resolve("ed.crt"), tmp.resolve("ed.key"), null);
        assertEquals("CN=ed.example", c.leaf().getSubjectX500Principal().getName());

        IOException e = assertThrows(IOException.class,
                () -> CertificateAuthority.load(tmp.resolve("ed.crt"), tmp.resolve("ed.key"), Clock.systemUTC()));
        assertTrue(e.getMessage().contains("unsupported CA key type"), e.getMessage());
    }

    @Test
    void anOpensslMadeCaIssuesServerCertificates() throws Exception {
        // The "files" mode with a given CA, made the way an operator would.
        OpenSsl.ok(tmp, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=Corp Root",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        CertificateAuthority ca = CertificateAuthority.load(tmp.resolve("ca.crt"), tmp.resolve("ca.key"),
                Clock.systemUTC());
        Path pki = tmp.resolve("pki");
        ca.loadOrIssueServer(pki, ServerNames.withDefaults(List.of("mirror.corp"), "n"));

        OpenSsl.ok(tmp, "verify", "-purpose", "sslserver", "-CAfile", "ca.crt", pki.resolve("server.crt").toString());
        assertEquals("CN=Corp Root", Pem.readCertificates(pki.resolve("server.crt")).get(1)
                .getSubjectX500Principal().getName());
    }

    @Test
    void writtenPemIsReadByOpenssl() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.RSA_3072, Clock.systemUTC());
        String key = OpenSsl.ok(tmp, "pkey", "-in", dir.resolve("ca.key").toString(), "-noout", "-text");
        assertTrue(key.contains("3072 bit"), key);
        String cert = OpenSsl.ok(tmp, "x509", "-in", dir.resolve("ca.crt").toString(), "-noout", "-text");
        assertTrue(cert.contains("CA:TRUE, pathlen:0"), cert);
        assertTrue(cert.contains("Certificate Sign, CRL Sign"), cert);
    }

    @Test
    void roundTripsCertificatesAndKeys() throws Exception {
        CertificateAuthority ca = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        ServerCredentials s = ca.issueServer(ServerNames.of(List.of("a.example")));
        String chain = Pem.encodeCertificates(s.chain());

        assertEquals(s.chain(), Pem.parseCertificates(chain, "chain"));
        assertEquals(s.leaf(), Pem.parseCertificates("leading text\n" + Pem.encodeCertificate(s.leaf()), "x").get(0));
        PrivateKey back = Pem.parsePrivateKey(Pem.encodePrivateKey(s.privateKey()), "key");
        assertArrayEquals(s.privateKey().getEncoded(), back.getEncoded());
        for (String line : chain.split("\n")) {
            assertTrue(line.length() <= 64, "PEM lines of at most 64 characters: " + line);
        }
    }

    @Test
    void errorsNameTheFile() throws Exception {
        Path missing = tmp.resolve("nope.crt");
        IOException e1 = assertThrows(IOException.class, () -> Pem.readCertificate(missing));
        assertEquals(missing + ": no such file", e1.getMessage());

        Path text = Files.writeString(tmp.resolve("text.pem"), "hello\n");
        IOException e2 = assertThrows(IOException.class, () -> Pem.readCertificates(text));
        assertTrue(e2.getMessage().startsWith(text + ": no PEM certificate"), e2.getMessage());
        IOException e3 = assertThrows(IOException.class, () -> Pem.readPrivateKey(text));
        assertTrue(e3.getMessage().startsWith(text + ": no PEM private key"), e3.getMessage());

        Path broken = Files.writeString(tmp.resolve("broken.pem"),
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        IOException e4 = assertThrows(IOException.class, () -> Pem.readCertificates(broken));
        assertTrue(e4.getMessage().startsWith(broken + ": malformed"), e4.getMessage());

        OpenSsl.ok(tmp, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "plain.key");
        OpenSsl.ok(tmp, "pkcs8", "-topk8", "-in", "plain.key", "-out", "enc.key", "-passout", "pass:secret");
        Path enc = tmp.resolve("enc.key");
        IOException e5 = assertThrows(IOException.class, () -> Pem.readPrivateKey(enc));
        assertTrue(e5.getMessage().startsWith(enc + ": the private key is encrypted"), e5.getMessage());

        OpenSsl.ok(tmp, "req", "-x509", "-key", "plain.key", "-subj", "/CN=d", "-days", "1", "-outform", "der",
                "-out", "cert.der");
        Path der = tmp.resolve("cert.der");
        IOException e6 = assertThrows(IOException.class, () -> Pem.readCertificate(der));
        assertTrue(e6.getMessage().startsWith(der + ": looks like binary DER"), e6.getMessage());
    }

    @Test
    void aCertificateFileWithTheChainKeepsItsOrder() throws Exception {
        CertificateAuthority ca = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        ServerCredentials s = ca.issueServer(ServerNames.of(List.of("a.example")));
        Path f = tmp.resolve("chain.pem");
        Pem.writeCertificates(f, s.chain());
        List<X509Certificate> read = Pem.readCertificates(f);
        assertEquals(s.leaf(), read.get(0));
        assertEquals(ca.certificate(), read.get(1));
    }
}
