package ocimirror.server.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.ServerNames;
import org.junit.jupiter.api.Test;

/** Host name matching as HTTPS clients do it, the IPv6 short form, and --repo parsing. */
class CertificateNamesTest {

    private static X509Certificate leaf(String... names) {
        CertificateAuthority ca = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        return ca.issueServer(ServerNames.of(List.of(names))).leaf();
    }

    @Test
    void wildcardsCoverExactlyOneLeftMostLabel() {
        X509Certificate c = leaf("*.example.com", "10.0.0.5", "::1");
        assertTrue(CertificateNames.covers(c, "registry.example.com"));
        assertTrue(CertificateNames.covers(c, "Registry.Example.COM"));
        assertFalse(CertificateNames.covers(c, "a.registry.example.com"));
        assertFalse(CertificateNames.covers(c, "example.com"));
        assertTrue(CertificateNames.covers(c, "10.0.0.5"));
        assertFalse(CertificateNames.covers(c, "10.0.0.6"));
        assertTrue(CertificateNames.covers(c, "[0:0:0:0:0:0:0:1]"));
        assertEquals("*.example.com, ::1, 10.0.0.5", CertificateNames.coveredPhrase(c));
    }

    @Test
    void ipv6IsShortenedAtItsLongestZeroRun() {
        assertEquals("::1", CertificateNames.shortIpv6("0:0:0:0:0:0:0:1"));
        assertEquals("fd00::5:0:0:1", CertificateNames.shortIpv6("fd00:0:0:0:5:0:0:1"));
        assertEquals("fd00:1:2:3:4:5:6:0", CertificateNames.shortIpv6("fd00:1:2:3:4:5:6:0"));
        assertEquals("registry.local", CertificateNames.shortIpv6("registry.local"));
    }

    @Test
    void repoReferencesParseTagsDigestsAndDefaultToLatest() {
        assertEquals("library/alpine:latest", ImageRef.parse("library/alpine").toString());
        assertEquals("team/app:1.0", ImageRef.parse("team/app:1.0").toString());
        String digest = "sha256:" + "a".repeat(64);
        assertEquals("team/app@" + digest, ImageRef.parse("team/app@" + digest).toString());
        assertThrows(IllegalArgumentException.class, () -> ImageRef.parse("Team/App:1"));
        assertThrows(IllegalArgumentException.class, () -> ImageRef.parse("team/app@latest"));
        assertThrows(IllegalArgumentException.class, () -> ImageRef.parse("team/app:bad tag"));
    }
}
