package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** An upstream's {@code urls}: several URLs to fail over between, each with its own CA and credentials. */
class ConfigLoaderFailoverTest {
    @TempDir
    Path dir;

    @BeforeEach
    void files() throws Exception {
        Files.writeString(dir.resolve("ca.pem"), "not read by the loader\n");
        Files.writeString(dir.resolve("password"), "secret\n");
    }

    @Test
    void urlsAsStringsAndObjectsEachWithItsOwnCaAndCredentials() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("""
                upstreams:
                  - name: hub
                    urls:
                      - url: https://mirror.corp:5000
                        caCert: ca.pem
                        credentials: {username: robot, passwordFile: password}
                      - https://registry-1.docker.io
                    default: true
                """));
        UpstreamConfig u = c.upstreams().get(0);
        assertEquals(List.of(new UpstreamUrl(URI.create("https://mirror.corp:5000"), dir.resolve("ca.pem"),
                        new CredentialSource.PasswordFile("robot", dir.resolve("password"))),
                UpstreamUrl.of("https://registry-1.docker.io")), u.urls());
        // url() and the rest stay the first URL's, so code that knows one URL keeps working.
        assertEquals(URI.create("https://mirror.corp:5000"), u.url());
        assertEquals(dir.resolve("ca.pem"), u.caCert());
        assertTrue(u.credentials() instanceof CredentialSource.PasswordFile);
        assertTrue(u.implicitLibraryPrefix(), "one of its URLs is Docker Hub's");
        UpstreamConfig second = u.forUrl(1);
        assertEquals(URI.create("https://registry-1.docker.io"), second.url());
        assertEquals(null, second.caCert());
        assertEquals(CredentialSource.none(), second.credentials(), "the first URL's secret is not the second's");
        assertEquals(1, second.urls().size());
    }

    @Test
    void aSingleUrlIsAListOfOne() throws Exception {
        UpstreamConfig u = ConfigLoader.load(write("upstreams:\n  - {name: x, url: \"https://x.test\", caCert: ca.pem}\n"))
                .upstreams().get(0);
        assertEquals(List.of(new UpstreamUrl(URI.create("https://x.test"), dir.resolve("ca.pem"), null)), u.urls());
    }

    static Stream<Arguments> badFiles() {
        return Stream.of(
                bad("{name: x, url: \"https://a.test\", urls: [\"https://b.test\"]}", "upstreams[0].url: give either url or urls, not both"),
                bad("{name: x, urls: []}", "upstreams[0].urls: must not be empty"),
                bad("{name: x, urls: [\"https://a.test\", \"https://a.test/v2/\"]}",
                        "upstreams[0].urls[1]: 'https://a.test/v2/' must not have a path"),
                bad("{name: x, urls: [\"https://a.test\", \"https://A.test:443\"]}",
                        "upstreams[0].urls[1]: 'https://A.test:443' is listed twice (also upstreams[0].urls[0])"),
                bad("{name: x, urls: [\"http://a.test\"]}", "upstreams[0].urls[0]: 'http://a.test' must start with https://"),
                bad("{name: x, urls: [{caCert: ca.pem}]}", "upstreams[0].urls[0].url: missing"),
                bad("{name: x, urls: [{url: \"https://a.test\", caCert: nope.pem}]}",
                        "upstreams[0].urls[0].caCert: DIR/nope.pem: no such file"),
                bad("{name: x, urls: [{url: \"https://a.test\", credentials: {username: u}}]}",
                        "upstreams[0].urls[0].credentials.passwordFile: missing"),
                bad("{name: x, urls: [{url: \"https://a.test\", token: t}]}", "upstreams[0].urls[0].token: unknown field"),
                bad("{name: x, urls: [\"https://a.test\"], caCert: ca.pem}", "upstreams[0].caCert: with urls, give caCert per URL"),
                bad("{name: x, urls: [\"https://a.test\"], credentials: {username: u, passwordFile: password}}",
                        "upstreams[0].credentials: with urls, give credentials per URL"),
                bad("{name: x}", "upstreams[0].url: missing (or give urls)"));
    }

    private static Arguments bad(String upstream, String message) {
        return Arguments.of("upstreams:\n  - " + upstream + "\n", message);
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("badFiles")
    void errorsNameTheFileAndTheField(String content, String expected) throws Exception {
        Path file = write(content);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        String message = e.getMessage().replace(dir.toString(), "DIR");
        assertTrue(message.startsWith("DIR/mirror.yaml: " + expected), message);
    }

    @Test
    void theRecordChecksItsUrlsToo() {
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class, () -> UpstreamConfig
                .builder("x", "https://a.test").failover(UpstreamUrl.of("https://a.test:443")).build());
        assertTrue(dup.getMessage().contains("urls[1] 'https://a.test:443' is listed twice"), dup.getMessage());
        IllegalArgumentException path = assertThrows(IllegalArgumentException.class, () -> UpstreamConfig
                .builder("x", "https://a.test").failover(UpstreamUrl.of("https://b.test/x")).build());
        assertTrue(path.getMessage().contains("urls[1] 'https://b.test/x' must not have a path"), path.getMessage());
        UpstreamConfig ok = UpstreamConfig.builder("x", "https://a.test").failover(UpstreamUrl.of("https://b.test"))
                .build();
        assertEquals(2, ok.urls().size());
        assertEquals(ok, ok.withMaxRetries(ok.maxRetries()));
        assertEquals(0, ok.withMaxRetries(0).maxRetries());
    }

    private Path write(String content) throws Exception {
        return Files.writeString(dir.resolve("mirror.yaml"), content);
    }
}
