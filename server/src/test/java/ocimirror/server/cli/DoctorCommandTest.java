package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.ServerNames;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.Programs;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ocimirror doctor} on the command line: a configuration file with a TLS + htpasswd
 * {@code docker-registry} upstream and a generated mirror certificate; the output format and
 * the exit codes 0, 1 and 2.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DoctorCommandTest {

    private Path tmp;
    private TestPki pki;
    private DockerRegistry registry;
    private Path data;
    private StringWriter out;
    private StringWriter err;

    @BeforeAll
    void start(@TempDir Path base) throws Exception {
        tmp = base;
        Programs.require("openssl", "openssl");
        Programs.require("docker-registry", "docker-registry");
        pki = TestPki.create(tmp.resolve("pki"));
        registry = DockerRegistry.builder(tmp.resolve("a")).tls(pki.server("upstream", "IP:127.0.0.1"))
                .htpasswd("alice", "secret-a").start();
        registry.push(TinyImage.write(tmp.resolve("image"), "1", 1_000, 9), "team/app:1", pki.certDir(),
                "alice:secret-a");
        Files.writeString(tmp.resolve("alice.pw"), "secret-a\n");
        data = tmp.resolve("data");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(data.resolve("pki"), KeyAlgorithm.EC_P256,
                Clock.systemUTC());
        ca.loadOrIssueServer(data.resolve("pki"), ServerNames.withDefaults(List.of("mirror.example.com")));
    }

    @AfterAll
    void stop() {
        if (registry != null) {
            registry.close();
        }
    }

    private Path config(String name, String caCert) throws Exception {
        return Files.writeString(tmp.resolve(name), "data: " + data + "\n"
                + "upstreams:\n"
                + "  - name: a\n"
                + "    url: " + registry.url() + "\n"
                + (caCert == null ? "" : "    caCert: " + caCert + "\n")
                + "    credentials: {username: alice, passwordFile: " + tmp.resolve("alice.pw") + "}\n");
    }

    private int doctor(String... args) {
        out = new StringWriter();
        err = new StringWriter();
        String[] all = new String[args.length + 1];
        all[0] = "doctor";
        System.arraycopy(args, 0, all, 1, args.length);
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), all);
    }

    private List<String> lines() {
        return out.toString().lines().toList();
    }

    @Test
    void everyCheckPassesWithTheRightCaCertCredentialsAndNames() throws Exception {
        long start = System.nanoTime();
        int code = doctor("--config", config("good.yaml", pki.caCert().toString()).toString(), "--repo", "team/app:1",
                "--name", "mirror.example.com", "--name", "127.0.0.1", "--timeout", "5s");
        assertEquals(0, code, out + "\n" + err);
        List<String> lines = lines();
        assertEquals(9, lines.size(), out.toString());
        for (String l : lines.subList(0, 8)) {
            assertTrue(l.startsWith("ok   "), l);
        }
        assertEquals("doctor: 8 ok, 0 warnings, 0 failed", lines.get(8));
        assertTrue(lines.get(2).startsWith("ok   upstream 'a' tls: TLSv1."), lines.get(2));
        assertTrue(lines.get(5).startsWith("ok   mirror names: " + data.resolve("pki/server.crt")
                + " covers 'mirror.example.com'"), lines.get(5));
        assertTrue(lines.get(7).startsWith("ok   mirror expiry: "), lines.get(7));
        assertTrue(Duration.ofNanos(System.nanoTime() - start).compareTo(Duration.ofSeconds(10)) < 0);
    }

    @Test
    void aMissingCaCertFailsWithAFixLineAndExitStatusOne() throws Exception {
        int code = doctor("--config", config("noca.yaml", null).toString(), "--upstream", "a");
        assertEquals(1, code, out + "\n" + err);
        List<String> lines = lines();
        int fail = lines.indexOf(lines.stream().filter(l -> l.startsWith("FAIL")).findFirst().orElseThrow());
        assertTrue(lines.get(fail).startsWith("FAIL upstream 'a' tls: certificate chain ends at 'CN=ocimirror test CA'"),
                lines.get(fail));
        assertTrue(lines.get(fail + 1).startsWith("     fix: set caCert of upstream 'a'"), lines.get(fail + 1));
        assertEquals("skip upstream 'a' credentials, manifest: not checked after the tls failure", lines.get(fail + 2));
        assertTrue(lines.stream().noneMatch(l -> l.matches("\\S+ +mirror .*")), "--upstream alone leaves the mirror out: " + out);
        assertEquals("doctor: 2 ok, 0 warnings, 1 failed, 1 skipped", lines.get(lines.size() - 1));
    }

    @Test
    void aNameTheMirrorCertificateLacksFails() throws Exception {
        Path empty = Files.writeString(tmp.resolve("empty.yaml"), "data: " + data + "\n");
        assertEquals(1, doctor("--config", empty.toString(), "--name", "other.example.com"));
        assertTrue(out.toString().contains("FAIL mirror names: " + data.resolve("pki/server.crt")
                + " does not cover 'other.example.com'; it covers "), out.toString());
        assertEquals(0, doctor("--config", empty.toString(), "--data", data.toString(), "--name", "localhost"), out.toString());
    }

    @Test
    void usageAndConfigurationErrorsExitTwo() throws Exception {
        Path good = config("usage.yaml", pki.caCert().toString());
        assertEquals(2, doctor("--config", good.toString(), "--upstream", "nope"));
        assertTrue(err.toString().contains("no upstream is named 'nope' (upstreams: a)"), err.toString());
        assertEquals(2, doctor("--config", good.toString(), "--timeout", "soon"));
        assertTrue(err.toString().contains("--timeout: 'soon' is not a duration"), err.toString());
        assertEquals(2, doctor("--config", good.toString(), "--repo", "Team/App:1"));
        assertTrue(err.toString().contains("--repo: 'Team/App' is not a repository name"), err.toString());
        assertEquals(2, doctor("--config", tmp.resolve("missing.yaml").toString()));
        assertEquals("", out.toString());
    }

    @Test
    void timeoutsParse() {
        assertEquals(Duration.ofMillis(500), DoctorCommand.parseTimeout("500ms"));
        assertEquals(Duration.ofSeconds(10), DoctorCommand.parseTimeout("10"));
        assertEquals(Duration.ofMinutes(2), DoctorCommand.parseTimeout("2m"));
        assertEquals(Duration.ofSeconds(3), DoctorCommand.parseTimeout("PT3S"));
    }
}
