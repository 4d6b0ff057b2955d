package ocimirror.config.pki;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

    @TempDir
    Path tmp;

    private final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);

    @Test
    void generatedCaIsASelfSignedCaWithPathLenZero() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(tmp.resolve("pki"), KeyAlgorithm.EC_P256, clock);
        X509Certificate c = ca.certificate();

        assertTrue(ca.created());
        assertEquals(KeyAlgorithm.EC_P256, ca.algorithm());
        assertEquals("EC", c.getPublicKey().getAlgorithm());
        assertEquals(0, c.getBasicConstraints(), "CA:TRUE with pathLen 0");
        assertTrue(c.getCriticalExtensionOIDs().containsAll(Set.of("2.5.29.19", "2.5.29.15")),
                "basicConstraints and keyUsage are critical");
        boolean[] ku = c.getKeyUsage();
        assertTrue(ku[5] && ku[6], "keyCertSign and cRLSign");
        assertFalse(ku[0] || ku[2], "no digitalSignature or keyEncipherment on the CA");
        assertNotNull(c.getExtensionValue("2.5.29.14"), "subject key identifier");
        assertNotNull(c.getExtensionValue("2.5.29.35"), "authority key identifier");
        assertEquals(c.getSubjectX500Principal(), c.getIssuerX500Principal());
        c.verify(c.getPublicKey());
        assertTrue(c.getSubjectX500Principal().getName().contains("CN=ocimirror CA "), c.getSubjectX500Principal().getName());
        assertTrue(c.getSerialNumber().bitLength() > 64, "random serial");
        Duration validity = Duration.between(c.getNotBefore().toInstant(), c.getNotAfter().toInstant());
        assertTrue(validity.toDays() >= 3650 && validity.toDays() <= 3651, "about ten years: " + validity);
        assertTrue(c.getNotBefore().toInstant().isBefore(NOW), "back-dated against clock skew");
    }

    @Test
    void serverCertificateChainsToTheCaAndCarriesSansAndServerAuth() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        ServerNames names = ServerNames.withDefaults(List.of("mirror.example.com", "10.1.2.3"), "node-7");
        CertificateAuthority.IssuedServer issued = ca.loadOrIssueServer(dir, names);
        ServerCredentials server = issued.credentials();
        X509Certificate leaf = server.leaf();

        assertTrue(issued.issued());
        assertEquals(List.of(leaf, ca.certificate()), server.chain());
        validate(ca.certificate(), leaf);
        assertEquals(-1, leaf.getBasicConstraints(), "not a CA");
        assertEquals(List.of(SERVER_AUTH), leaf.getExtendedKeyUsage());
        boolean[] ku = leaf.getKeyUsage();
        assertTrue(ku[0], "digitalSignature");
        assertFalse(ku[2] || ku[5], "no keyEncipherment for EC, no keyCertSign");
        assertEquals(Set.of("mirror.example.com", "localhost", "node-7"), names(leaf, 2));
        assertEquals(Set.of("10.1.2.3", "127.0.0.1", "0:0:0:0:0:0:0:1"), names(leaf, 7));
        assertTrue(names.missingFrom(leaf).isEmpty());
        Duration validity = Duration.between(NOW, leaf.getNotAfter().toInstant());
        assertEquals(397, validity.toDays());
        assertNotEquals(ca.certificate().getSerialNumber(), leaf.getSerialNumber());

        // What was saved is what is served.
        ServerCredentials reloaded = ServerCredentials.load(dir.resolve("server.crt"), dir.resolve("server.key"), null);
        assertEquals(server.chain(), reloaded.chain());
        assertArrayEquals(server.privateKey().getEncoded(), reloaded.privateKey().getEncoded());
    }

    @Test
    void keysAre0600AndTheDirectory0700() throws Exception {
        Path dir = tmp.resolve("data").resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of(), null));

        assertEquals("rwx------", perms(dir));
        assertEquals("rw-------", perms(dir.resolve("ca.key")));
        assertEquals("rw-------", perms(dir.resolve("server.key")));
        assertTrue(perms(dir.resolve("ca.crt")).startsWith("rw-"));
        try (var files = Files.list(dir)) {
            assertEquals(Set.of("ca.crt", "ca.key", "server.crt", "server.key"),
                    Set.copyOf(files.map(p -> p.getFileName().toString()).toList()), "no temp files left");
        }
        String key = Files.readString(dir.resolve("ca.key"));
        assertTrue(key.startsWith("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 PEM");
    }

    @Test
    void anExistingLooseDirectoryIsNarrowedTo0700() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("pki"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        assertEquals("rwx------", perms(dir));
    }

    @Test
    void secondStartReusesTheCaAndTheServerCertificate() throws Exception {
        Path dir = tmp.resolve("pki");
        ServerNames names = ServerNames.withDefaults(List.of("mirror.example.com"), "node-7");
        CertificateAuthority first = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        X509Certificate firstLeaf = first.loadOrIssueServer(dir, names).credentials().leaf();

        CertificateAuthority second = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.RSA_3072, clock);
        CertificateAuthority.IssuedServer again = second.loadOrIssueServer(dir, names);

        assertFalse(second.created());
        assertEquals(KeyAlgorithm.EC_P256, second.algorithm(), "the saved CA wins over the requested algorithm");
        assertEquals(first.certificate().getSerialNumber(), second.certificate().getSerialNumber());
        assertEquals(first.fingerprint(), second.fingerprint());
        assertFalse(again.issued(), () -> "reused, but: " + again.issuedBecause());
        assertEquals(firstLeaf.getSerialNumber(), again.credentials().leaf().getSerialNumber());
    }

    @Test
    void aNameNotCoveredReissuesTheServerCertificateUnderTheSameCa() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        X509Certificate before = ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of("a.example"), "n"))
                .credentials().leaf();

        CertificateAuthority reloaded = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        CertificateAuthority.IssuedServer after = reloaded.loadOrIssueServer(dir,
                ServerNames.withDefaults(List.of("a.example", "b.example", "192.168.9.9"), "n"));

        assertTrue(after.issued());
        assertTrue(after.issuedBecause().orElseThrow().contains("b.example"), after.issuedBecause().orElseThrow());
        assertNotEquals(before.getSerialNumber(), after.credentials().leaf().getSerialNumber());
        assertEquals(ca.certificate(), reloaded.certificate());
        validate(ca.certificate(), after.credentials().leaf());
        assertTrue(names(after.credentials().leaf(), 2).containsAll(Set.of("a.example", "b.example")));
        assertEquals(after.credentials().leaf(), Pem.readCertificate(dir.resolve("server.crt")), "saved");
    }

    @Test
    void aServerCertificateCloseToExpiryIsReissued() throws Exception {
        Path dir = tmp.resolve("pki");
        ServerNames names = ServerNames.withDefaults(List.of(), "n");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        X509Certificate leaf = ca.loadOrIssueServer(dir, names).credentials().leaf();

        Clock day360 = Clock.offset(clock, Duration.ofDays(360));
        CertificateAuthority.IssuedServer stillFine = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, day360)
                .loadOrIssueServer(dir, names);
        assertFalse(stillFine.issued(), "37 days left");

        Clock day370 = Clock.offset(clock, Duration.ofDays(370));
        CertificateAuthority.IssuedServer renewed = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, day370)
                .loadOrIssueServer(dir, names);
        assertTrue(renewed.issued(), "27 days left");
        assertTrue(renewed.issuedBecause().orElseThrow().contains("expires"), renewed.issuedBecause().orElseThrow());
        assertNotEquals(leaf.getSerialNumber(), renewed.credentials().leaf().getSerialNumber());
        assertTrue(renewed.credentials().notAfter().isAfter(NOW.plus(Duration.ofDays(760))));
    }

    @Test
    void aCorruptServerCertificateIsReplaced() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of(), "n"));
        Files.writeString(dir.resolve("server.crt"), "garbage");

        CertificateAuthority.IssuedServer issued = ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of(), "n"));
        assertTrue(issued.issuedBecause().orElseThrow().contains("unusable"), issued.issuedBecause().orElseThrow());
        validate(ca.certificate(), Pem.readCertificate(dir.resolve("server.crt")));
    }

    @Test
    void aServerCertificateFromAnotherCaIsReplaced() throws Exception {
        Path dir = tmp.resolve("pki");
        ServerNames names = ServerNames.withDefaults(List.of(), "n");
        CertificateAuthority.create(KeyAlgorithm.EC_P256, clock).loadOrIssueServer(dir, names);
        CertificateAuthority mine = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);

        CertificateAuthority.IssuedServer issued = mine.loadOrIssueServer(dir, names);
        assertTrue(issued.issuedBecause().orElseThrow().contains("another CA"), issued.issuedBecause().orElseThrow());
        validate(mine.certificate(), issued.credentials().leaf());
    }

    @Test
    void rsaOption() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.RSA_3072, clock);
        ServerCredentials server = ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of(), "n")).credentials();

        assertEquals(KeyAlgorithm.RSA_3072, ca.algorithm());
        assertEquals(3072, ((RSAPublicKey) ca.certificate().getPublicKey()).getModulus().bitLength());
        assertEquals(3072, ((RSAPublicKey) server.leaf().getPublicKey()).getModulus().bitLength());
        assertEquals("SHA256withRSA", server.leaf().getSigAlgName());
        boolean[] ku = server.leaf().getKeyUsage();
        assertTrue(ku[0] && ku[2], "digitalSignature and keyEncipherment for RSA");
        validate(ca.certificate(), server.leaf());
        assertEquals(KeyAlgorithm.RSA_3072,
                CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock).algorithm());
    }

    @Test
    void aCaCertificateWithoutItsKeyIsNeverReplacedSilently() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        Files.delete(dir.resolve("ca.key"));

        IOException e = assertThrows(IOException.class,
                () -> CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock));
        assertTrue(e.getMessage().contains("ca.key is missing"), e.getMessage());
    }

    @Test
    void theLeafNeverOutlivesTheCa() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        Clock late = Clock.offset(clock, CertificateAuthority.CA_VALIDITY.minusDays(100));
        CertificateAuthority sameCaLater = CertificateAuthority.load(dir.resolve("ca.crt"), dir.resolve("ca.key"), late);

        ServerCredentials s = sameCaLater.issueServer(ServerNames.withDefaults(List.of(), "n"));
        assertEquals(ca.certificate().getNotAfter(), s.leaf().getNotAfter());

        Clock expired = Clock.offset(clock, CertificateAuthority.CA_VALIDITY.plusDays(1));
        CertificateAuthority expiredCa = CertificateAuthority.load(dir.resolve("ca.crt"), dir.resolve("ca.key"), expired);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> expiredCa.issueServer(ServerNames.withDefaults(List.of(), "n")));
        assertTrue(e.getMessage().contains("expired"), e.getMessage());
    }

    @Test
    void filesModeRefusesANonCaAndAMismatchedKey() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of(), "n"));
        Path other = tmp.resolve("other");
        CertificateAuthority.loadOrCreate(other, KeyAlgorithm.EC_P256, clock);

        IOException notCa = assertThrows(IOException.class,
                () -> CertificateAuthority.load(dir.resolve("server.crt"), dir.resolve("server.key"), clock));
        assertTrue(notCa.getMessage().contains("not a CA"), notCa.getMessage());
        assertTrue(notCa.getMessage().contains("server.crt"), notCa.getMessage());

        IOException wrongCaKey = assertThrows(IOException.class,
                () -> CertificateAuthority.load(dir.resolve("ca.crt"), other.resolve("ca.key"), clock));
        assertTrue(wrongCaKey.getMessage().contains("does not belong"), wrongCaKey.getMessage());

        IOException wrongLeafKey = assertThrows(IOException.class,
                () -> ServerCredentials.load(dir.resolve("server.crt"), other.resolve("ca.key"), null));
        assertTrue(wrongLeafKey.getMessage().startsWith(other.resolve("ca.key").toString()), wrongLeafKey.getMessage());

        CertificateAuthority given = CertificateAuthority.load(dir.resolve("ca.crt"), dir.resolve("ca.key"), clock);
        assertFalse(given.created());
        validate(ca.certificate(), given.issueServer(ServerNames.of(List.of("x.example"))).leaf());
    }

    @Test
    void filesModeWithASeparateChainFile() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, clock);
        ServerCredentials issued = ca.issueServer(ServerNames.of(List.of("x.example")));
        Pem.writeCertificates(tmp.resolve("leaf.pem"), List.of(issued.leaf()));
        Pem.writePrivateKey(tmp.resolve("leaf.key"), issued.privateKey());

        ServerCredentials loaded = ServerCredentials.load(tmp.resolve("leaf.pem"), tmp.resolve("leaf.key"),
                dir.resolve("ca.crt"));
        assertEquals(List.of(issued.leaf(), ca.certificate()), loaded.chain());
        assertEquals(2, loaded.chainArray().length);
    }

    @Test
    void opensslVerifiesTheServerCertificateAgainstTheCa() throws Exception {
        Path dir = tmp.resolve("pki");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, KeyAlgorithm.EC_P256, Clock.systemUTC());
        ca.loadOrIssueServer(dir, ServerNames.withDefaults(List.of("mirror.example.com"), "n"));

        Programs.Result ok = OpenSsl.run(tmp, "verify", "-purpose", "sslserver", "-verify_hostname", "mirror.example.com",
                "-CAfile", dir.resolve("ca.crt").toString(), dir.resolve("server.crt").toString());
        assertEquals(0, ok.exit(), ok.output());
        assertTrue(ok.output().contains(": OK"), ok.output());

        Path other = tmp.resolve("other");
        CertificateAuthority.loadOrCreate(other, KeyAlgorithm.EC_P256, Clock.systemUTC());
        Programs.Result bad = OpenSsl.run(tmp, "verify", "-CAfile", other.resolve("ca.crt").toString(),
                dir.resolve("server.crt").toString());
        assertNotEquals(0, bad.exit(), bad.output());
    }

    static void validate(X509Certificate ca, X509Certificate leaf) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        params.setRevocationEnabled(false);
        params.setDate(Date.from(leaf.getNotBefore().toInstant().plusSeconds(7200)));
        try {
            CertPathValidator.getInstance("PKIX").validate(cf.generateCertPath(List.of(leaf)), params);
        } catch (CertPathValidatorException e) {
            throw new AssertionError("leaf does not chain to CA: " + e.getMessage(), e);
        }
    }

    static Set<String> names(X509Certificate c, int type) throws Exception {
        return c.getSubjectAlternativeNames().stream().filter(san -> (Integer) san.get(0) == type)
                .map(san -> (String) san.get(1)).collect(java.util.stream.Collectors.toSet());
    }

    private static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }
}
