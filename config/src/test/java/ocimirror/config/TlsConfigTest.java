package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import ocimirror.config.TlsConfig.ClientAuth;
import ocimirror.config.TlsConfig.Mode;
import ocimirror.config.pki.KeyAlgorithm;
import org.junit.jupiter.api.Test;

class TlsConfigTest {
    private static final Path CRT = Path.of("tls.crt");
    private static final Path KEY = Path.of("tls.key");

    @Test
    void defaultsGenerateWithEcdsaAndNoClientCertificates() {
        TlsConfig d = TlsConfig.defaults();
        assertEquals(Mode.GENERATE, d.mode());
        assertEquals(KeyAlgorithm.EC_P256, d.keyAlgorithm());
        assertEquals(List.of(), d.hostNames());
        assertEquals(ClientAuth.NONE, d.clientAuth());
        assertTrue(d.enabled() && d.issuesOwnCertificate());
        assertFalse(TlsConfig.off().enabled());
    }

    @Test
    void filesModeTakesALeafOrACa() {
        TlsConfig leaf = new TlsConfig(Mode.FILES, null, null, CRT, KEY, Path.of("chain.pem"), null, null, null, null);
        assertFalse(leaf.issuesOwnCertificate());
        TlsConfig ca = new TlsConfig(Mode.FILES, null, List.of("mirror.example.com", "10.0.0.5"), null, null, null,
                Path.of("ca.crt"), Path.of("ca.key"), null, null);
        assertTrue(ca.issuesOwnCertificate());
    }

    @Test
    void aClientCaDefaultsToRequiringCertificates() {
        TlsConfig c = new TlsConfig(null, null, null, null, null, null, null, null, Path.of("clients.pem"), null);
        assertEquals(ClientAuth.REQUIRE, c.clientAuth());
        TlsConfig o = new TlsConfig(null, null, null, null, null, null, null, null, Path.of("clients.pem"), ClientAuth.OPTIONAL);
        assertEquals(ClientAuth.OPTIONAL, o.clientAuth());
    }

    @Test
    void refusesInconsistentSectionsNamingTheField() {
        refused("tls.certFile: only used with mode: files", () -> new TlsConfig(null, null, null, CRT, KEY, null, null, null, null, null));
        refused("tls.caCertFile: only used with mode: files (mode is off)",
                () -> new TlsConfig(Mode.OFF, null, null, null, null, null, Path.of("ca.crt"), null, null, null));
        refused("not both", () -> new TlsConfig(Mode.FILES, null, null, CRT, KEY, null, Path.of("c"), Path.of("k"), null, null));
        refused("mode files needs", () -> new TlsConfig(Mode.FILES, null, null, null, null, null, null, null, null, null));
        refused("tls.keyFile: required with certFile", () -> new TlsConfig(Mode.FILES, null, null, CRT, null, null, null, null, null, null));
        refused("tls.certFile: required with chainFile",
                () -> new TlsConfig(Mode.FILES, null, null, null, null, Path.of("chain"), null, null, null, null));
        refused("tls.caKeyFile: required with caCertFile",
                () -> new TlsConfig(Mode.FILES, null, null, null, null, null, Path.of("ca.crt"), null, null, null));
        refused("tls.hostNames: only used when ocimirror issues",
                () -> new TlsConfig(Mode.FILES, null, List.of("a.example"), CRT, KEY, null, null, null, null, null));
        refused("tls.hostNames: bad host name 'bad_name'",
                () -> new TlsConfig(null, null, List.of("bad_name"), null, null, null, null, null, null, null));
        refused("tls.clientAuth: require needs clientCaFile",
                () -> new TlsConfig(null, null, null, null, null, null, null, null, null, ClientAuth.REQUIRE));
        refused("tls.clientCaFile: set, but clientAuth is none",
                () -> new TlsConfig(null, null, null, null, null, null, null, null, Path.of("c.pem"), ClientAuth.NONE));
        refused("client certificates need TLS",
                () -> new TlsConfig(Mode.OFF, null, null, null, null, null, null, null, Path.of("c.pem"), null));
    }

    @Test
    void enumsParseCaseInsensitively() {
        assertEquals(Mode.FILES, Mode.fromName("Files"));
        assertEquals(ClientAuth.OPTIONAL, ClientAuth.fromName("optional"));
        refused("tls.mode: unknown value 'auto' (expected generate, files or off)", () -> Mode.fromName("auto"));
        refused("tls.clientAuth: unknown value", () -> ClientAuth.fromName("want"));
    }

    static void refused(String message, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
