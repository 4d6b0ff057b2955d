package ocimirror.config.pki;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ServerNamesTest {
    @Test
    void classifiesNamesAndCanonicalisesAddresses() {
        ServerNames n = ServerNames.of(List.of("Mirror.Example.COM", "*.apps.example", "10.0.0.1", "[fd00::1]",
                "0:0:0:0:0:0:0:1", "::1", "host."));
        assertEquals(Set.of("mirror.example.com", "*.apps.example", "host"), n.dnsNames());
        assertEquals(Set.of("10.0.0.1", "fd00:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1"), n.ipAddresses());
    }

    @Test
    void defaultsAddTheLocalNamesAndTheMachine() {
        ServerNames n = ServerNames.withDefaults(List.of("m.example"), "node-1");
        assertEquals(Set.of("m.example", "localhost", "node-1"), n.dnsNames());
        assertEquals(Set.of("127.0.0.1", "0:0:0:0:0:0:0:1"), n.ipAddresses());
    }

    @Test
    void aMachineNameNoCertificateCanCarryIsLeftOut() {
        ServerNames n = ServerNames.withDefaults(List.of(), "bad_host");
        assertEquals(Set.of("localhost"), n.dnsNames());
        assertThrows(IllegalArgumentException.class, () -> ServerNames.withDefaults(List.of("bad_host"), "n"),
                "but a configured one is an error");
    }

    @Test
    void refusesMalformedNames() {
        for (String bad : List.of("", "a..b", "-a.example", "a b", "http://x", "x/y", "a".repeat(64) + ".example")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerNames.of(List.of(bad)),
                    bad);
            assertTrue(e.getMessage().contains("bad host name"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> ServerNames.of(List.of()));
    }

    @Test
    void missingFromListsWhatACertificateLacks() {
        CertificateAuthority ca = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC());
        ServerCredentials s = ca.issueServer(ServerNames.of(List.of("a.example", "10.0.0.1")));
        assertEquals(List.of(), ServerNames.of(List.of("A.example", "10.0.0.1")).missingFrom(s.leaf()));
        assertEquals(List.of("b.example", "0:0:0:0:0:0:0:1"),
                ServerNames.of(List.of("a.example", "b.example", "::1")).missingFrom(s.leaf()));
        assertEquals(ServerNames.of(List.of("a.example", "10.0.0.1")), s.names());
        assertEquals(List.of("a.example"), ServerNames.of(List.of("a.example")).missingFrom(ca.certificate()),
                "a certificate without SANs covers nothing");
    }

    @Test
    void keyAlgorithmNames() {
        assertEquals(KeyAlgorithm.EC_P256, KeyAlgorithm.fromName("ECDSA-P256"));
        assertEquals(KeyAlgorithm.RSA_3072, KeyAlgorithm.fromName("rsa"));
        assertEquals(KeyAlgorithm.RSA_3072, KeyAlgorithm.fromName(KeyAlgorithm.RSA_3072.configName()));
        assertThrows(IllegalArgumentException.class, () -> KeyAlgorithm.fromName("dsa"));
    }
}
