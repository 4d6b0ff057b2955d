package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    @Test
    void loadsEveryKeyFromYaml() throws Exception {
        Path file = write("config.yaml", """
                listen: "127.0.0.1:5001"
                data: /srv/mirror
                storage:
                  deleteEnabled: false
                limits:
                  maxManifestBytes: 1000
                  maxHeaderBytes: 2000
                  maxUploadBytes: 10000000000
                  idleTimeoutSeconds: 7
                  requestHeadTimeout: 10s
                  requestBodyTimeout: 2m
                """);
        MirrorConfig c = ConfigLoader.load(file);
        assertEquals(new MirrorConfig.Listen("127.0.0.1", 5001), c.listen());
        assertEquals(Path.of("/srv/mirror"), c.dataDir());
        assertFalse(c.storage().deleteEnabled());
        assertEquals(new MirrorConfig.Limits(1000, 2000, 10_000_000_000L, 7,
                Duration.ofSeconds(10), Duration.ofMinutes(2)), c.limits());
    }

    @Test
    void missingKeysTakeDefaults() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("c.yml", "limits:\n  maxHeaderBytes: 4096\n"));
        MirrorConfig d = MirrorConfig.defaults();
        assertEquals(d.listen(), c.listen());
        assertEquals(d.dataDir(), c.dataDir());
        assertEquals(d.storage(), c.storage());
        assertEquals(4096, c.limits().maxHeaderBytes());
        assertEquals(d.limits().maxManifestBytes(), c.limits().maxManifestBytes());
        assertEquals(d.limits().idleTimeoutSeconds(), c.limits().idleTimeoutSeconds());
        assertEquals(Duration.ofSeconds(30), c.limits().requestHeadTimeout());
        assertEquals(Duration.ofSeconds(60), c.limits().requestBodyTimeout());
    }

    @Test
    void emptyFileIsTheDefaults() throws Exception {
        assertEquals(MirrorConfig.defaults(), ConfigLoader.load(write("empty.yaml", "\n")));
    }

    @Test
    void loadsJson() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("config.json",
                "{\"listen\": \":6000\", \"storage\": {\"deleteEnabled\": false}}"));
        assertEquals(new MirrorConfig.Listen("0.0.0.0", 6000), c.listen());
        assertFalse(c.storage().deleteEnabled());
    }

    static Stream<Arguments> badFiles() {
        return Stream.of(
                Arguments.of("limits:\n  maxManifestBytes: lots\n", "config.yaml: limits.maxManifestBytes: expected an integer"),
                Arguments.of("limits:\n  maxManifestBytes: \"12\"\n", "config.yaml: limits.maxManifestBytes: expected an integer"),
                Arguments.of("limits:\n  maxUploadBytes: 1.5\n", "config.yaml: limits.maxUploadBytes: expected an integer"),
                Arguments.of("limits:\n  idleTimeoutSeconds: 0\n", "config.yaml: limits.idleTimeoutSeconds: must be positive"),
                Arguments.of("limits:\n  requestHeadTimeout: 0\n", "config.yaml: limits.requestHeadTimeout: must be positive"),
                Arguments.of("limits:\n  requestHeadTimeout: soon\n", "config.yaml: limits.requestHeadTimeout: expected a duration"),
                Arguments.of("limits:\n  requestBodyTimeout: 0s\n", "config.yaml: limits.requestBodyTimeout: must be positive"),
                Arguments.of("limits:\n  requestBodyTimeout: -5\n", "config.yaml: limits.requestBodyTimeout: must not be negative"),
                Arguments.of("storage:\n  deleteEnabled: maybe\n", "config.yaml: storage.deleteEnabled: expected a boolean"),
                Arguments.of("storage:\n  deleteEnable: true\n", "config.yaml: storage.deleteEnable: unknown field"),
                Arguments.of("mirrors: []\n", "config.yaml: mirrors: unknown field"),
                Arguments.of("listen: [5000]\n", "config.yaml: listen: expected a string"),
                Arguments.of("listen: \"localhost\"\n", "config.yaml: listen: expected HOST:PORT"),
                Arguments.of("listen: \"localhost:99999\"\n", "config.yaml: listen: port out of range"),
                Arguments.of("limits: 3\n", "config.yaml: limits: expected a mapping"),
                Arguments.of("listen: a: b\n", "config.yaml: line 1, column 10: syntax error"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("badFiles")
    void errorsNameTheFileAndTheField(String content, String expectedStart) throws Exception {
        Path file = write("config.yaml", content);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        String message = e.getMessage().replace(dir + "/", "");
        assertTrue(message.startsWith(expectedStart), message);
    }

    @Test
    void missingFileIsAnError() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir.resolve("nope.yaml")));
        assertTrue(e.getMessage().endsWith("nope.yaml: no such file"), e.getMessage());
    }

    private Path write(String name, String content) throws Exception {
        return Files.writeString(dir.resolve(name), content);
    }
}
