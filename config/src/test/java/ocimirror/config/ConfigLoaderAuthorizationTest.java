package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code authorization} and {@code authorizationTtl} of an upstream. */
class ConfigLoaderAuthorizationTest {
    @TempDir
    Path dir;

    @Test
    void theMirrorDecidesUnlessTheUpstreamIsAskedTo() throws Exception {
        MirrorConfig c = ConfigLoader.load(Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - {name: hub, url: https://registry-1.docker.io, default: true}
                  - {name: corp, url: https://registry.corp, authorization: upstream}
                  - {name: lab, url: https://lab.corp, authorization: Upstream, authorizationTtl: 15s}
                """));
        assertFalse(c.upstreams().get(0).authorization().upstream());
        assertEquals(ClientAuthorization.upstream(null), c.upstreams().get(1).authorization());
        assertEquals(Duration.ofSeconds(60), c.upstreams().get(1).authorization().ttl());
        assertEquals(ClientAuthorization.upstream(Duration.ofSeconds(15)), c.upstreams().get(2).authorization());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "authorization: clients | upstreams[0].authorization: expected upstream or mirror, got 'clients'",
            "authorizationTtl: 10s | upstreams[0].authorizationTtl: applies only with authorization: upstream",
            "{authorization: upstream, authorizationTtl: 0} | upstreams[0].authorizationTtl: must be positive",
            "{authorization: upstream, authorizationTtl: 2h} | upstreams[0].authorizationTtl: must be at most 60 minutes",
            "{authorization: upstream, authorizationTtl: soon} | upstreams[0].authorizationTtl: ",
    })
    void badValuesNameTheFileAndField(String keys, String expected) throws Exception {
        String entry = keys.startsWith("{") ? keys.substring(1, keys.length() - 1) : keys;
        Path file = Files.writeString(dir.resolve("mirror.yaml"),
                "upstreams:\n  - {name: corp, url: https://registry.corp, " + entry + "}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        String message = e.getMessage().replace(dir.toString(), "DIR");
        assertTrue(message.startsWith("DIR/mirror.yaml: " + expected), message);
    }
}
