package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import ocimirror.config.AuthConfig.Access;
import ocimirror.config.TlsConfig.ClientAuth;
import ocimirror.config.TlsConfig.Mode;
import ocimirror.config.pki.KeyAlgorithm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The {@code tls:} and {@code auth:} sections: defaults, every key, relative paths, errors naming file and field. */
class ConfigLoaderTlsAuthTest {
    @TempDir
    Path dir;

    @BeforeEach
    void files() throws Exception {
        // The loader checks that referenced files exist; their content is read by the server.
        for (String f : List.of("tls.crt", "tls.key", "chain.pem", "ca.crt", "ca.key", "clients.pem", "htpasswd")) {
            Files.writeString(dir.resolve(f), "x\n");
        }
    }

    @Test
    void withoutTheSectionsTheMirrorServesHttpsWithAGeneratedCaAndNoClientAuth() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("c.yaml", "listen: \":5000\"\n"));
        assertEquals(TlsConfig.defaults(), c.tls());
        assertEquals(Mode.GENERATE, c.tls().mode());
        assertEquals(AuthConfig.disabled(), c.auth());
        assertFalse(c.auth().enabled());
        assertEquals(TlsConfig.defaults(), ConfigLoader.load(write("empty.yaml", "")).tls());
        assertEquals(TlsConfig.defaults(), MirrorConfig.defaults().tls());
        assertEquals(TlsConfig.defaults(), MirrorConfig.embedded().tls());
    }

    @Test
    void generateModeWithEveryKeyAndPathsRelativeToTheFile() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("c.yaml", """
                tls:
                  mode: generate
                  keyAlgorithm: rsa-3072
                  hostNames: [mirror.example.com, 10.0.0.5]
                  clientCaFile: clients.pem
                  clientAuth: optional
                """));
        TlsConfig t = c.tls();
        assertEquals(Mode.GENERATE, t.mode());
        assertEquals(KeyAlgorithm.RSA_3072, t.keyAlgorithm());
        assertEquals(List.of("mirror.example.com", "10.0.0.5"), t.hostNames());
        assertEquals(dir.resolve("clients.pem"), t.clientCaFile());
        assertEquals(ClientAuth.OPTIONAL, t.clientAuth());
    }

    @Test
    void offUnquotedIsTheModeNotABoolean() throws Exception {
        // YAML 1.1 reads a bare off as false; the mode must still come through as a word.
        assertEquals(TlsConfig.off(), ConfigLoader.load(write("c.yaml", "tls:\n  mode: off\n")).tls());
        assertEquals(TlsConfig.off(), ConfigLoader.load(write("c.yaml", "tls:\n  mode: \"off\"\n")).tls());
        assertEquals(TlsConfig.off(), ConfigLoader.load(write("c.json", "{\"tls\": {\"mode\": \"OFF\"}}")).tls());
    }

    @Test
    void filesModeWithACertificateOrWithACa() throws Exception {
        TlsConfig leaf = ConfigLoader.load(write("c.yaml", """
                tls: {mode: files, certFile: tls.crt, keyFile: tls.key, chainFile: chain.pem}
                """)).tls();
        assertEquals(new TlsConfig(Mode.FILES, null, null, dir.resolve("tls.crt"), dir.resolve("tls.key"),
                dir.resolve("chain.pem"), null, null, null, null), leaf);
        TlsConfig ca = ConfigLoader.load(write("c.yaml", """
                tls: {mode: files, caCertFile: ca.crt, caKeyFile: ca.key, hostNames: [mirror.local],
                      clientCaFile: clients.pem}
                """)).tls();
        assertEquals(dir.resolve("ca.crt"), ca.caCertFile());
        assertEquals(dir.resolve("ca.key"), ca.caKeyFile());
        assertTrue(ca.issuesOwnCertificate());
        assertEquals(ClientAuth.REQUIRE, ca.clientAuth(), "a client CA alone means require");
    }

    @Test
    void authWithEveryKey() throws Exception {
        AuthConfig a = ConfigLoader.load(write("c.yaml", """
                auth:
                  htpasswd: htpasswd
                  realm: corp mirror
                  defaultAccess: push
                  users: {ci: push, viewer: pull}
                """)).auth();
        assertEquals(dir.resolve("htpasswd"), a.htpasswd());
        assertEquals("corp mirror", a.realm());
        assertEquals(Map.of("ci", Access.PUSH, "viewer", Access.PULL), a.users());
        assertEquals(Access.PUSH, a.defaultAccess());
        assertEquals(Access.PULL, a.accessOf("viewer"));
        assertEquals(Access.PUSH, a.accessOf("someone-else"));

        AuthConfig minimal = ConfigLoader.load(write("c.yaml", "auth: {htpasswd: htpasswd}\n")).auth();
        assertTrue(minimal.enabled());
        assertEquals(AuthConfig.DEFAULT_REALM, minimal.realm());
        assertEquals(Access.PULL, minimal.defaultAccess());
    }

    static Stream<Arguments> badSections() {
        return Stream.of(
                Arguments.of("tls: {mode: sometimes}\n", "c.yaml: tls.mode: unknown value 'sometimes' (expected generate, files or off)"),
                Arguments.of("tls: {mode: on}\n", "c.yaml: tls.mode: expected generate, files or off"),
                Arguments.of("tls: {mode: [files]}\n", "c.yaml: tls.mode: expected generate, files or off"),
                Arguments.of("tls: {keyAlgorithm: dsa}\n", "c.yaml: tls.keyAlgorithm: unknown key algorithm 'dsa'"),
                Arguments.of("tls: {clientAuth: always}\n", "c.yaml: tls.clientAuth: unknown value 'always'"),
                Arguments.of("tls: {clientAuth: require}\n", "c.yaml: tls.clientAuth: require needs clientCaFile"),
                Arguments.of("tls: {mode: files, certFile: nope.crt, keyFile: tls.key}\n", "c.yaml: tls.certFile: DIR/nope.crt: no such file"),
                Arguments.of("tls: {mode: files, keyFile: tls.key}\n", "c.yaml: tls.certFile: required with keyFile"),
                Arguments.of("tls: {mode: files}\n", "c.yaml: tls: mode files needs certFile + keyFile, or caCertFile + caKeyFile"),
                Arguments.of("tls: {certFile: tls.crt}\n", "c.yaml: tls.certFile: only used with mode: files (mode is generate)"),
                Arguments.of("tls: {mode: off, clientCaFile: clients.pem}\n", "c.yaml: tls.clientCaFile: client certificates need TLS"),
                Arguments.of("tls: {hostNames: [\"bad name!\"]}\n", "c.yaml: tls.hostNames: "),
                Arguments.of("tls: {hostNames: [3]}\n", "c.yaml: tls.hostNames[0]: expected a string"),
                Arguments.of("tls: {hostNames: [\"\"]}\n", "c.yaml: tls.hostNames[0]: expected a host name or an IP address"),
                Arguments.of("tls: {mode: generate, port: 5443}\n", "c.yaml: tls.port: unknown field"),
                Arguments.of("tls: generate\n", "c.yaml: tls: expected a mapping"),
                Arguments.of("auth: {htpasswd: missing}\n", "c.yaml: auth.htpasswd: DIR/missing: no such file"),
                Arguments.of("auth: {htpasswd: htpasswd, users: {ci: admin}}\n", "c.yaml: auth.users.ci: unknown value 'admin' (expected pull or push)"),
                Arguments.of("auth: {htpasswd: htpasswd, users: {ci: }}\n", "c.yaml: auth.users.ci: expected pull or push"),
                Arguments.of("auth: {htpasswd: htpasswd, defaultAccess: all}\n", "c.yaml: auth.defaultAccess: unknown value 'all'"),
                Arguments.of("auth: {users: {ci: push}}\n", "c.yaml: auth.users: needs auth.htpasswd"),
                Arguments.of("auth: {htpasswd: htpasswd, realm: 'a\"b'}\n", "c.yaml: auth.realm: printable ASCII"),
                Arguments.of("auth: {htpasswd: htpasswd, users: [ci]}\n", "c.yaml: auth.users: expected a mapping"),
                Arguments.of("auth: {passwd: htpasswd}\n", "c.yaml: auth.passwd: unknown field"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("badSections")
    void errorsNameTheFileAndTheField(String content, String expectedStart) throws Exception {
        Path file = write("c.yaml", content);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        String message = e.getMessage().replace(dir + "/c.yaml", "c.yaml").replace(dir.toString(), "DIR");
        assertTrue(message.startsWith(expectedStart), message);
    }

    private Path write(String name, String content) throws Exception {
        return Files.writeString(dir.resolve(name), content);
    }
}
