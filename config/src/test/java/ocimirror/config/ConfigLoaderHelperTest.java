package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code upstreams[].credentials.helper} and {@code lifetime}: found when loaded, bad input named. */
class ConfigLoaderHelperTest {
    @TempDir
    Path dir;
    Path program;

    @BeforeEach
    void helper() throws Exception {
        program = CredentialHelperTest.helper(Files.createDirectories(dir.resolve("bin")), "lab", "exit 0");
    }

    private UpstreamConfig load(String credentials, String pathVariable) throws ConfigException {
        String yaml = "upstreams:\n  - name: lab\n    url: https://registry.lab:5000\n    credentials: " + credentials + "\n";
        return new UpstreamReaderHarness(pathVariable).load(yaml);
    }

    /** The loader with its PATH given, so the test does not depend on the machine's. */
    private record UpstreamReaderHarness(String pathVariable) {
        UpstreamConfig load(String yaml) throws ConfigException {
            UpstreamReader.UpstreamSection s;
            try {
                YAMLMapper m = new YAMLMapper();
                s = m.treeToValue(m.readTree(yaml).get("upstreams").get(0), UpstreamReader.UpstreamSection.class);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return new UpstreamReader("mirror.yaml", Path.of("/"), pathVariable).read(s, 0);
        }
    }

    @Test
    void aHelperOnThePathIsResolvedWithItsLifetime() throws Exception {
        UpstreamConfig u = load("{helper: lab, lifetime: 5m}", "/nonexistent:" + program.getParent());
        assertEquals(new CredentialSource.Helper("lab", program, Duration.ofMinutes(5)), u.credentials());
        u = load("{helper: " + program + "}", "");
        assertEquals(new CredentialSource.Helper(program.toString(), program, Duration.ofMinutes(10)), u.credentials());
    }

    @Test
    void theWholeLoaderReadsAnAbsoluteHelper() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), "upstreams:\n  - name: lab\n"
                + "    url: https://registry.lab:5000\n    credentials: {helper: " + program + ", lifetime: 1h}\n");
        assertEquals(Duration.ofHours(1),
                ((CredentialSource.Helper) ConfigLoader.load(file).upstreams().get(0).credentials()).lifetime());
    }

    @Test
    void eachUrlOfAnUpstreamMayHaveItsOwnHelper() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), "upstreams:\n  - name: lab\n    urls:\n"
                + "      - {url: https://registry.lab:5000, credentials: {helper: " + program + ", lifetime: 1h}}\n"
                + "      - https://registry-1.docker.io\n");
        UpstreamConfig u = ConfigLoader.load(file).upstreams().get(0);
        assertEquals(new CredentialSource.Helper(program.toString(), program, Duration.ofHours(1)),
                u.urls().get(0).credentials());
        assertEquals(CredentialSource.none(), u.urls().get(1).credentials());
        // what the URL's client asks the helper for: that URL's host, not the upstream's first
        assertEquals("registry.lab:5000", CredentialHelper.serverUrl(u.forUrl(0)));
        assertEquals("https://index.docker.io/v1/", CredentialHelper.serverUrl(u.forUrl(1)));
    }

    @Test
    void badInputIsAnErrorNamingTheField() {
        String path = program.getParent().toString();
        assertError("{helper: ecr-login}", path, "mirror.yaml: upstreams[0].credentials.helper: docker-credential-ecr-login"
                + " is not an executable file in any directory of PATH");
        assertError("{helper: " + dir.resolve("nope") + "}", path, "upstreams[0].credentials.helper: " + dir.resolve("nope")
                + ": no such executable file");
        assertError("{helper: ../lab}", path, "upstreams[0].credentials.helper: '../lab' is neither a helper name");
        assertError("{helper: lab, lifetime: 0}", path, "upstreams[0].credentials.lifetime: must be positive");
        assertError("{helper: lab, lifetime: -5m}", path, "upstreams[0].credentials.lifetime: ");
        assertError("{lifetime: 5m}", path, "upstreams[0].credentials.helper: missing (lifetime needs it)");
        assertError("{helper: lab, username: u, passwordFile: p}", path,
                "upstreams[0].credentials: give one of helper, dockerConfig, or username and passwordFile");
    }

    private void assertError(String credentials, String path, String expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> load(credentials, path), credentials);
        assertTrue(e.getMessage().contains(expected), credentials + ": " + e.getMessage());
    }
}
