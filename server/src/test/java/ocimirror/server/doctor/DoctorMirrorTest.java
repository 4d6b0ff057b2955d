package ocimirror.server.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.ServerNames;
import ocimirror.server.doctor.Check.Status;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mirror's own certificate, as generate mode leaves it under {@code <data>/pki}. */
class DoctorMirrorTest {

    @TempDir
    Path data;

    /** Generate mode's CA and server certificate, issued {@code age} ago. */
    private Path generated(Duration age) throws Exception {
        Path pki = data.resolve("pki");
        MutableClock then = new MutableClock(Instant.now().minus(age));
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(pki, KeyAlgorithm.EC_P256, then);
        ca.loadOrIssueServer(pki, ServerNames.withDefaults(List.of(), "node-1"));
        return pki.resolve(CertificateAuthority.SERVER_CERT_FILE);
    }

    private static List<Check> doctor(Path cert, boolean explicit, String... names) {
        List<Check> checks = new ArrayList<>();
        Doctor.Summary s = new Doctor(List.of(), new Doctor.Options(Optional.empty(), Duration.ofSeconds(1),
                Optional.empty(), cert, explicit, List.of(names)), Clock.systemUTC(), u -> {
                    throw new AssertionError("no upstream to check");
                }).run(checks::add);
        assertEquals(checks.stream().filter(c -> c.status() == Status.FAIL).count(), s.failures());
        return checks;
    }

    @Test
    void coveredNamesAndAFreshCertificatePass() throws Exception {
        Path cert = generated(Duration.ZERO);
        List<Check> checks = doctor(cert, false, "localhost", "127.0.0.1", "node-1");
        assertEquals(List.of(Status.OK, Status.OK, Status.OK, Status.OK), checks.stream().map(Check::status).toList(),
                checks.toString());
        assertEquals(cert + " covers 'localhost'", checks.get(0).message());
        assertTrue(checks.get(3).message().contains("(396 days left)") || checks.get(3).message().contains("(397 days left)"),
                checks.get(3).message());
    }

    @Test
    void aNameTheCertificateLacksFailsNamingTheCoveredNames() throws Exception {
        Path cert = generated(Duration.ZERO);
        List<Check> checks = doctor(cert, false, "localhost", "mirror.example.com");
        assertEquals(Status.OK, checks.get(0).status());
        Check fail = checks.get(1);
        assertEquals(Status.FAIL, fail.status());
        assertEquals("mirror names", fail.subject());
        assertEquals(cert + " does not cover 'mirror.example.com'; it covers localhost, node-1, ::1, 127.0.0.1", fail.message());
        assertTrue(fail.fix().startsWith("add mirror.example.com to tls.hostNames and restart ocimirror"), fail.fix());
    }

    @Test
    void underThirtyDaysLeftWarns() throws Exception {
        Path cert = generated(Duration.ofDays(380));
        Check expiry = doctor(cert, false).get(1);
        assertEquals(Status.WARN, expiry.status(), expiry.toString());
        assertTrue(expiry.message().contains("days left"), expiry.message());
        assertTrue(expiry.fix().startsWith("restart ocimirror"), expiry.fix());
    }

    @Test
    void anExpiredCertificateFailsWithItsDate() throws Exception {
        Path cert = generated(Duration.ofDays(400));
        Instant notAfter = ocimirror.config.pki.Pem.readCertificate(cert).getNotAfter().toInstant();
        List<Check> checks = doctor(cert, false, "localhost");
        Check expiry = checks.get(1);
        assertEquals(Status.FAIL, expiry.status());
        assertEquals(cert + " expired on " + CertificateNames.date(notAfter) + ": clients refuse it", expiry.message());
    }

    @Test
    void noCertificateYetIsSkippedUnlessItWasNamed() {
        Path cert = data.resolve("pki/server.crt");
        assertEquals(Status.SKIP, doctor(cert, false).get(0).status());
        assertEquals(Status.WARN, doctor(cert, false, "localhost").get(0).status());
        assertEquals(Status.FAIL, doctor(cert, true).get(0).status());
    }
}
