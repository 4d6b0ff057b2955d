package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.Pem;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Each format read back and checked against the CA under {@code <data>/pki}. */
class CaExportCommandTest {
    private static final String MIRROR = "mirror.example.com:5000";
    @TempDir
    Path tmp;
    Path data;
    X509Certificate ca;
    StringWriter out;
    StringWriter err;

    @BeforeEach
    void ca() throws Exception {
        data = tmp.resolve("data");
        ca = CertificateAuthority.loadOrCreate(data.resolve("pki"), KeyAlgorithm.EC_P256, Clock.systemUTC()).certificate();
    }

    private int run(String... args) {
        out = new StringWriter();
        err = new StringWriter();
        String[] all = new String[args.length + 1];
        all[0] = "export";
        System.arraycopy(args, 0, all, 1, args.length);
        return new CommandLine(new CaCommand()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute(all);
    }

    private static List<X509Certificate> pem(String text) throws Exception {
        return Pem.parseCertificates(text, "output");
    }

    @Test
    void pemGoesToStandardOutput() throws Exception {
        assertEquals(0, run("--format", "pem", "--data", data.toString()));
        assertEquals(List.of(ca), pem(out.toString()));
        assertEquals("", err.toString());
    }

    @Test
    void base64IsThePemOnceMore() throws Exception {
        assertEquals(0, run("--format", "base64", "--data", data.toString()));
        String pemText = new String(Base64.getDecoder().decode(out.toString().trim()), StandardCharsets.US_ASCII);
        assertEquals(List.of(ca), pem(pemText));
    }

    @Test
    void tkgCarriesTheCaForTheMirror() throws Exception {
        assertEquals(0, run("--format", "tkg", "--data", data.toString(), "--mirror", MIRROR));
        JsonNode entry = new YAMLMapper().readTree(out.toString()).path("spec").path("trust").path("additionalTrustedCAs").get(0);
        assertEquals("mirror.example.com-5000", entry.path("name").asText());
        assertEquals(List.of(ca), pem(new String(Base64.getDecoder().decode(entry.path("data").asText()), StandardCharsets.US_ASCII)));
    }

    @Test
    void containerdWritesHostsTomlAndCaCrt() throws Exception {
        Path o = tmp.resolve("etc-containerd");
        assertEquals(0, run("--format", "containerd", "--data", data.toString(), "--mirror", MIRROR, "--host", "docker.io",
                "-o", o.toString()));
        Path dir = o.resolve("certs.d/docker.io");
        JsonNode toml = new TomlMapper().readTree(dir.resolve("hosts.toml").toFile());
        assertEquals("https://registry-1.docker.io", toml.path("server").asText());
        JsonNode host = toml.path("host").path("https://" + MIRROR);
        assertEquals(List.of("pull", "resolve"), new ObjectMapper().convertValue(host.path("capabilities"), List.class));
        assertEquals(List.of(ca), Pem.readCertificates(dir.resolve(host.path("ca").asText())));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.crt"))));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertTrue(out.toString().contains("wrote " + dir.resolve("hosts.toml")), out.toString());
        assertTrue(out.toString().contains(CertificateAuthority.fingerprint(ca)), out.toString());
    }

    @Test
    void dockerWritesCertsDOfTheMirrorAndRefusesToOverwriteOtherContent() throws Exception {
        Path o = tmp.resolve("etc-docker");
        assertEquals(0, run("--format", "docker", "--data", data.toString(), "--mirror", MIRROR, "-o", o.toString()));
        Path crt = o.resolve("certs.d/" + MIRROR + "/ca.crt");
        assertEquals(List.of(ca), Pem.readCertificates(crt));

        assertEquals(0, run("--format", "docker", "--data", data.toString(), "--mirror", MIRROR, "-o", o.toString()));
        assertTrue(out.toString().contains("unchanged " + crt), out.toString());

        Files.writeString(crt, "someone else's CA\n");
        assertEquals(1, run("--format", "docker", "--data", data.toString(), "--mirror", MIRROR, "-o", o.toString()));
        assertTrue(err.toString().contains("--force") && err.toString().contains(crt.toString()), err.toString());
        assertEquals("someone else's CA\n", Files.readString(crt), "left alone");

        assertEquals(0, run("--format", "docker", "--data", data.toString(), "--mirror", MIRROR, "-o", o.toString(), "--force"));
        assertEquals(List.of(ca), Pem.readCertificates(crt));
    }

    @Test
    void k8sSecretHoldsTheUsersCredentialsAndIsPrivate() throws Exception {
        Path pw = Files.writeString(tmp.resolve("pw"), "pä ss\n");
        Path o = tmp.resolve("manifests");
        assertEquals(0, run("--format", "k8s-secret", "--data", data.toString(), "--mirror", MIRROR, "--user", "node",
                "--password-file", pw.toString(), "--namespace", "apps", "-o", o.toString()));
        Path file = o.resolve("ocimirror-pull.yaml");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        JsonNode secret = new YAMLMapper().readTree(file.toFile());
        assertEquals("kubernetes.io/dockerconfigjson", secret.path("type").asText());
        assertEquals("apps", secret.path("metadata").path("namespace").asText());
        JsonNode auth = new ObjectMapper().readTree(Base64.getDecoder().decode(secret.path("data").path(".dockerconfigjson")
                .asText())).path("auths").path(MIRROR);
        assertEquals("node:pä ss", new String(Base64.getDecoder().decode(auth.path("auth").asText()), StandardCharsets.UTF_8),
                "the file's trailing newline is not part of the password");
    }

    @Test
    void theDataDirectoryCanComeFromTheConfigurationFile() throws Exception {
        Path config = Files.writeString(tmp.resolve("config.yaml"), "data: " + data + "\n");
        assertEquals(0, run("--format", "pem", "--config", config.toString()));
        assertEquals(List.of(ca), pem(out.toString()));
    }

    @Test
    void theConfigurationsTlsModeSaysWhichCa() throws Exception {
        // files mode with a given CA: that CA, wherever the data directory is.
        CertificateAuthority given = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        Pem.writeCertificates(tmp.resolve("given-ca.crt"), List.of(given.certificate()));
        Files.writeString(tmp.resolve("given-ca.key"), "not read by ca export\n");
        Path config = Files.writeString(tmp.resolve("files.yaml"), "data: " + data + "\n"
                + "tls: {mode: files, caCertFile: given-ca.crt, caKeyFile: given-ca.key}\n");
        assertEquals(0, run("--format", "pem", "--config", config.toString()), err.toString());
        assertEquals(List.of(given.certificate()), pem(out.toString()));

        // files mode with a given server certificate: ocimirror does not know its issuer.
        Files.writeString(tmp.resolve("tls.crt"), "x\n");
        Files.writeString(tmp.resolve("tls.key"), "x\n");
        config = Files.writeString(tmp.resolve("leaf.yaml"), "tls: {mode: files, certFile: tls.crt, keyFile: tls.key}\n");
        assertEquals(2, run("--format", "pem", "--config", config.toString()));
        assertTrue(err.toString().contains("export that CA with --ca-file FILE"), err.toString());

        config = Files.writeString(tmp.resolve("off.yaml"), "data: " + data + "\ntls: {mode: off}\n");
        assertEquals(2, run("--format", "pem", "--config", config.toString()));
        assertTrue(err.toString().contains("TLS is off (tls.mode: off): there is no CA to trust"), err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void aGivenCaFileIsExportedAsIs() throws Exception {
        X509Certificate own = CertificateAuthority.create(KeyAlgorithm.RSA_3072, Clock.systemUTC()).certificate();
        Path file = tmp.resolve("own-ca.crt");
        Pem.writeCertificates(file, List.of(own));
        assertEquals(0, run("--format", "pem", "--ca-file", file.toString()));
        assertEquals(List.of(own), pem(out.toString()));
    }

    @Test
    void aMissingCaSaysHowToGetOne() {
        Path empty = tmp.resolve("empty");
        assertEquals(1, run("--format", "pem", "--data", empty.toString()));
        assertTrue(err.toString().contains("no CA at " + empty.resolve("pki/ca.crt")), err.toString());
        assertTrue(err.toString().contains("ocimirror serve --data " + empty), err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void usageErrorsExitWith2AndSayWhy() {
        assertEquals(2, run("--format", "jks", "--data", data.toString()));
        assertTrue(err.toString().contains("unknown export format 'jks'"), err.toString());
        assertEquals(2, run("--data", data.toString()));
        assertTrue(err.toString().contains("--format"), err.toString());
        assertEquals(2, run("--format", "docker", "--data", data.toString(), "--mirror", MIRROR));
        assertTrue(err.toString().contains("give -o DIR"), err.toString());
        assertEquals(2, run("--format", "containerd", "--data", data.toString(), "--mirror", MIRROR, "-o", tmp.toString()));
        assertTrue(err.toString().contains("--host"), err.toString());
        assertEquals(2, run("--format", "tkg", "--data", data.toString()));
        assertTrue(err.toString().contains("needs --mirror"), err.toString());
        assertEquals(2, run("--format", "k8s-secret", "--data", data.toString(), "--mirror", MIRROR, "--user", "u"));
        assertTrue(err.toString().contains("--password-file"), err.toString());
        assertEquals(2, run("--format", "pem", "--data", data.toString(), "--config", "x.yaml"));
        assertTrue(err.toString().contains("at most one"), err.toString());
        assertEquals(2, run("--format", "docker", "--data", data.toString(), "--mirror", "https://m:5000", "-o", tmp.toString()));
        assertTrue(err.toString().contains("without scheme"), err.toString());
        assertFalse(Files.exists(tmp.resolve("certs.d")), "nothing written on a usage error");
    }

    @Test
    void caAloneShowsItsUsage() {
        out = new StringWriter();
        int code = new CommandLine(new CaCommand()).setOut(new PrintWriter(out, true)).execute();
        assertEquals(0, code);
        assertTrue(out.toString().contains("export"), out.toString());
    }
}
