package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import ocimirror.config.ObservabilityConfig.LogFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The {@code metrics:} and {@code log:} sections: defaults, every key, errors naming file and field. */
class ConfigLoaderObservabilityTest {

    @Test
    void withoutTheSectionsMetricsArePublicOnTheMainListenerOnlyAndLogsAreText() throws Exception {
        MirrorConfig c = ConfigLoader.parse("listen: \":5000\"\n", "c.yaml", false);
        assertEquals(ObservabilityConfig.defaults(), c.observability());
        assertTrue(c.observability().metrics().publicMetrics());
        assertNull(c.observability().metrics().adminListen());
        assertEquals(Duration.ofMinutes(5), c.observability().metrics().cacheSizeInterval());
        assertEquals(LogFormat.TEXT, c.observability().log().format());
        assertEquals(ObservabilityConfig.defaults(), MirrorConfig.embedded().observability());
    }

    @Test
    void everyKey() throws Exception {
        MirrorConfig c = ConfigLoader.parse("""
                metrics:
                  public: false
                  adminListen: 127.0.0.1:9090
                  cacheSizeInterval: 30s
                log:
                  format: JSON
                """, "c.yaml", false);
        ObservabilityConfig.Metrics m = c.observability().metrics();
        assertFalse(m.publicMetrics());
        assertEquals(new MirrorConfig.Listen("127.0.0.1", 9090), m.adminListen());
        assertEquals(Duration.ofSeconds(30), m.cacheSizeInterval());
        assertEquals(LogFormat.JSON, c.observability().log().format());
        // and the with-methods keep it
        assertEquals(c.observability(), c.withListen(new MirrorConfig.Listen("::1", 1)).observability());
    }

    @Test
    void theAuditLogIsOffUnlessAskedForAndItsFileIsRelativeToTheConfigFile(@TempDir Path dir) throws Exception {
        assertNull(ConfigLoader.parse("log: {format: json}\n", "c.yaml", false).observability().log().audit());
        Path file = Files.writeString(dir.resolve("c.yaml"),
                "log:\n  audit: {output: logs/audit.log, blobs: true, maxSize: 10MiB, keep: 3}\n");
        ObservabilityConfig.Audit a = ConfigLoader.load(file).observability().log().audit();
        assertEquals(new ObservabilityConfig.Audit(dir.resolve("logs/audit.log"), true, 10L << 20, 3), a);
        ObservabilityConfig.Audit out = ConfigLoader.parse("log: {audit: {output: stdout}}\n", "c.yaml", false)
                .observability().log().audit();
        assertEquals(new ObservabilityConfig.Audit(null, false, 100L << 20, 5), out);
        assertEquals(LogFormat.TEXT, ConfigLoader.parse("log: {audit: {output: stdout}}\n", "c.yaml", false)
                .observability().log().format(), "the format keeps its default");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "log: {audit: {output: " + dir + "}}\n", "c.yaml", false));
        assertTrue(e.getMessage().contains("log.audit.output: " + dir + " is a directory"), e.getMessage());
    }

    @Test
    void jsonFilesToo() throws Exception {
        MirrorConfig c = ConfigLoader.parse("{\"log\": {\"format\": \"json\"}, \"metrics\": {\"public\": true}}",
                "c.json", true);
        assertEquals(LogFormat.JSON, c.observability().log().format());
        assertTrue(c.observability().metrics().publicMetrics());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "metrics: {adminListen: nine}|c.yaml: metrics.adminListen: expected HOST:PORT, got 'nine'",
            "metrics: {cacheSizeInterval: 0s}|c.yaml: metrics.cacheSizeInterval: must be positive",
            "metrics: {cacheSizeInterval: soon}|c.yaml: metrics.cacheSizeInterval:",
            "metrics: {public: maybe}|c.yaml: metrics.public:",
            "metrics: {port: 9090}|c.yaml: metrics.port: unknown field (expected one of: adminListen, cacheSizeInterval, public)",
            "log: {format: xml}|c.yaml: log.format: unknown value 'xml' (expected text or json)",
            "log: {level: debug}|c.yaml: log.level: unknown field (expected one of: audit, format)",
            "log: {audit: {blobs: true}}|c.yaml: log.audit.output: required: stdout, or the path of the audit file",
            "log: {audit: {output: a.log, maxSize: 10}}|c.yaml: log.audit.maxSize: must be at least 1KiB, got 10",
            "log: {audit: {output: a.log, maxSize: lots}}|c.yaml: log.audit.maxSize:",
            "log: {audit: {output: a.log, keep: 0}}|c.yaml: log.audit.keep: must be 1 to 20, got 0",
            "log: {audit: {output: a.log, keep: 21}}|c.yaml: log.audit.keep: must be 1 to 20, got 21",
            "log: {audit: {output: a.log, rotate: daily}}|c.yaml: log.audit.rotate: unknown field (expected one of: blobs, keep, maxSize, output)",
            "log: {audit: stdout}|c.yaml: log.audit: expected a mapping",
    })
    void errorsNameTheFileAndTheField(String yaml, String message) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "c.yaml", false));
        assertTrue(e.getMessage().startsWith(message), e.getMessage());
    }
}
