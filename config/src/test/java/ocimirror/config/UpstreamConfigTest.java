package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UpstreamConfigTest {

    @Test
    void nullOptionalsTakeDefaults() {
        UpstreamConfig u = new UpstreamConfig("hub", URI.create("https://registry-1.docker.io"), null, true,
                null, null, null, false, null, 0);
        assertEquals(List.of(), u.aliases());
        assertInstanceOf(CredentialSource.None.class, u.credentials());
        assertEquals(UpstreamConfig.DEFAULT_TAG_TTL, u.tagTtl());
        assertEquals(UpstreamConfig.Timeouts.defaults(), u.timeouts());
        assertEquals("registry-1.docker.io", u.host());
        assertEquals(443, u.port());
        assertEquals("registry-1.docker.io", u.authority());
    }

    @ParameterizedTest
    @CsvSource({
            "https://Reg.Test:5000, false, reg.test, 5000, reg.test:5000",
            "https://reg.test:443/, false, reg.test, 443, reg.test",
            "http://127.0.0.1:8080, true, 127.0.0.1, 8080, 127.0.0.1:8080",
            "http://reg.test, true, reg.test, 80, reg.test",
    })
    void hostPortAndAuthority(String url, boolean plain, String host, int port, String authority) {
        UpstreamConfig u = UpstreamConfig.builder("x", url).plainHttp(plain).build();
        assertEquals(host, u.host());
        assertEquals(port, u.port());
        assertEquals(authority, u.authority());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "http://reg.test        | false | must start with https://",
            "https://reg.test       | true  | must start with http://",
            "https://u:p@reg.test   | false | must not hold credentials",
            "https://reg.test/v2/   | false | must not have a path",
            "https://reg.test?x=1   | false | must not have a query",
            "reg.test:5000          | false | must start with https://",
            "https://reg test       | false | is not a URI",
    })
    void badUrlsSayWhatIsWrong(String url, boolean plain, String why) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UpstreamConfig.builder("up", url).plainHttp(plain).build());
        assertTrue(e.getMessage().startsWith("upstream 'up': url"), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void validatesNamesAliasesTtlRetriesAndTimeouts() {
        assertThrows(IllegalArgumentException.class, () -> UpstreamConfig.builder("a/b", "https://x").build());
        assertThrows(IllegalArgumentException.class, () -> UpstreamConfig.builder("", "https://x").build());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UpstreamConfig.builder("a", "https://x").aliases("GCR.io").build());
        assertTrue(e.getMessage().contains("alias 'GCR.io'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> UpstreamConfig.builder("a", "https://x").aliases("gcr.io", "gcr.io").build());
        assertTrue(e.getMessage().contains("listed twice"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> UpstreamConfig.builder("a", "https://x").tagTtl(Duration.ofSeconds(-1)).build());
        assertThrows(IllegalArgumentException.class,
                () -> UpstreamConfig.builder("a", "https://x").maxRetries(11).build());
        assertThrows(IllegalArgumentException.class,
                () -> new UpstreamConfig.Timeouts(Duration.ZERO, Duration.ofSeconds(1), Duration.ofSeconds(1)));

        UpstreamConfig ok = UpstreamConfig.builder("k8s", "https://registry.k8s.io")
                .aliases("registry.k8s.io", "k8s.gcr.io", "localhost:5000").tagTtl(Duration.ZERO).maxRetries(0).build();
        assertEquals(List.of("registry.k8s.io", "k8s.gcr.io", "localhost:5000"), ok.aliases());
        assertEquals(Duration.ZERO, ok.tagTtl());
    }

    @ParameterizedTest
    @CsvSource({"Hub", "HUB", "-hub", "hub-", "a..b", "a_.b", "a/b", "a b", "a:5000", "_x"})
    void namesThatAreNotRepositoryPathComponentsAreRefused(String name) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UpstreamConfig.builder(name, "https://x").build());
        assertTrue(e.getMessage().contains("is not a lower-case name"), e.getMessage());
    }

    @Test
    void lowerCaseNamesWithSeparatorsAreAccepted() {
        for (String n : List.of("docker.io", "registry.k8s.io", "k8s", "my-corp_2", "a".repeat(64))) {
            assertEquals(n, UpstreamConfig.builder(n, "https://x").build().name());
        }
        assertThrows(IllegalArgumentException.class, () -> UpstreamConfig.builder("a".repeat(65), "https://x").build());
    }

    @ParameterizedTest
    @CsvSource({
            "https://registry-1.docker.io, true", "https://docker.io, true", "https://index.docker.io:443, true",
            "https://mirror.gcr.io, false", "https://ghcr.io, false", "https://registry-1.docker.io.evil.test, false"})
    void dockerHubHostsHaveTheImplicitLibraryPrefix(String url, boolean expected) {
        assertEquals(expected, UpstreamConfig.builder("u", url).build().implicitLibraryPrefix());
    }

    @Test
    void selectorsAreTheAliasesAndTheName() {
        assertEquals(List.of("gcr.io", "gcr"),
                UpstreamConfig.builder("gcr", "https://gcr.io").aliases("gcr.io").build().selectors());
        assertEquals(List.of("gcr.io"),
                UpstreamConfig.builder("gcr.io", "https://gcr.io").aliases("gcr.io").build().selectors());
    }

    @Test
    void passwordFileSourceRejectsColonInUser() {
        assertThrows(IllegalArgumentException.class,
                () -> new CredentialSource.PasswordFile("a:b", java.nio.file.Path.of("p")));
    }
}
