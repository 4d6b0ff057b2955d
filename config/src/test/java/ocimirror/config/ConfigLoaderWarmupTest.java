package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderWarmupTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "warmup: {enabled: false}|false|PT30S",
            "warmup: {maxDuration: 5s}|true|PT5S",
            "warmup: {enabled: true, maxDuration: 2m}|true|PT2M",
            "warmup: {}|true|PT30S",
            "listen: \":5000\"|true|PT30S"})
    void readsTheWarmup(String yaml, boolean enabled, String max) throws Exception {
        MirrorConfig.Warmup w = load(yaml).warmup();
        assertEquals(enabled, w.enabled());
        assertEquals(Duration.parse(max), w.maxDuration());
    }

    @Test
    void onByDefaultEverywhere() throws Exception {
        assertEquals(new MirrorConfig.Warmup(true, Duration.ofSeconds(30)), MirrorConfig.Warmup.defaults());
        assertEquals(MirrorConfig.Warmup.defaults(), MirrorConfig.defaults().warmup());
        assertEquals(MirrorConfig.Warmup.defaults(), MirrorConfig.embedded().warmup());
        MirrorConfig off = MirrorConfig.embedded().withWarmup(new MirrorConfig.Warmup(false, Duration.ofSeconds(1)));
        assertEquals(false, off.withTls(TlsConfig.off()).withDataDir(Path.of("/tmp/x")).warmup().enabled(),
                "the other withers carry it along");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "warmup: {maxDuration: 0}|warmup.maxDuration: must be positive",
            "warmup: {maxDuration: soon}|warmup.maxDuration: expected a duration",
            "warmup: {enabled: yes please}|warmup.enabled: expected a boolean",
            "warmup: {duration: 5s}|warmup.duration: unknown field (expected one of: enabled, maxDuration)",
            "warmup: true|warmup: expected a mapping"})
    void errorsNameTheFileAndField(String yaml, String message) throws Exception {
        Path file = Files.writeString(dir.resolve("bad.yaml"), yaml + "\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    private MirrorConfig load(String yaml) throws Exception {
        return ConfigLoader.load(Files.writeString(dir.resolve("c.yaml"), yaml + "\n"));
    }
}
