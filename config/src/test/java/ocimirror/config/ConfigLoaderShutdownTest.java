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

class ConfigLoaderShutdownTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "shutdown: {gracePeriod: 45s}|PT45S",
            "shutdown: {gracePeriod: 2m}|PT2M",
            "shutdown: {gracePeriod: 1500ms}|PT1.5S",
            "shutdown: {gracePeriod: 10}|PT10S",
            "shutdown: {gracePeriod: 0}|PT0S",
            "shutdown: {}|PT30S",
            "listen: \":5000\"|PT30S"})
    void readsTheGracePeriod(String yaml, String expected) throws Exception {
        assertEquals(Duration.parse(expected), load(yaml).shutdown().gracePeriod());
    }

    @Test
    void theDefaultIsThirtySecondsEverywhere() throws Exception {
        assertEquals(Duration.ofSeconds(30), MirrorConfig.Shutdown.defaults().gracePeriod());
        assertEquals(MirrorConfig.Shutdown.defaults(), MirrorConfig.defaults().shutdown());
        assertEquals(MirrorConfig.Shutdown.defaults(), MirrorConfig.embedded().shutdown());
        assertEquals(MirrorConfig.defaults(), ConfigLoader.load(Files.writeString(dir.resolve("e.yaml"), "\n")));
    }

    @Test
    void withShutdownKeepsTheRest() {
        MirrorConfig c = MirrorConfig.embedded().withShutdown(new MirrorConfig.Shutdown(Duration.ZERO));
        assertEquals(Duration.ZERO, c.shutdown().gracePeriod());
        assertEquals(MirrorConfig.embedded().upstreams(), c.upstreams());
        // The other withers carry it along.
        assertEquals(Duration.ZERO, c.withDataDir(Path.of("/tmp/x")).withTls(TlsConfig.off()).shutdown().gracePeriod());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "shutdown: {gracePeriod: soon}|shutdown.gracePeriod: expected a duration",
            "shutdown: {gracePeriod: -5s}|shutdown.gracePeriod: expected a duration",
            "shutdown: {gracePeriod: -5}|shutdown.gracePeriod: must not be negative",
            "shutdown: {gracePeriod: [30s]}|shutdown.gracePeriod: expected a duration",
            "shutdown: {grace: 30s}|shutdown.grace: unknown field (expected one of: gracePeriod)",
            "shutdown: 30s|shutdown: expected a mapping"})
    void errorsNameTheFileAndField(String yaml, String message) throws Exception {
        Path file = Files.writeString(dir.resolve("bad.yaml"), yaml + "\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void theRecordRefusesANegativeGracePeriod() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MirrorConfig.Shutdown(Duration.ofSeconds(-1)));
        assertTrue(e.getMessage().startsWith("shutdown.gracePeriod: "), e.getMessage());
    }

    private MirrorConfig load(String yaml) throws Exception {
        return ConfigLoader.load(Files.writeString(dir.resolve("c.yaml"), yaml + "\n"));
    }
}
