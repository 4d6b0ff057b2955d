package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderCacheTest {
    @TempDir
    Path dir;

    @Test
    void loadsTheCacheAndGcSections() throws Exception {
        MirrorConfig c = load("""
                cache:
                  maxSize: 50GiB
                  highWatermark: 0.95
                  lowWatermark: "70%"
                  pins:
                    - docker.io/library/alpine:3.20
                    - registry.corp:5000/team/app:v1
                    - gcr.io/distroless/static@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
                    - nginx
                gc:
                  gracePeriod: 2h
                  interval: 0
                """);
        assertEquals(50L << 30, c.cache().maxSize());
        assertTrue(c.cache().isBounded());
        assertEquals(0.95, c.cache().highWatermark());
        assertEquals(0.70, c.cache().lowWatermark(), 1e-9);
        assertEquals((long) ((50L << 30) * 0.95), c.cache().highBytes());
        assertEquals(4, c.cache().pins().size());
        assertEquals("registry.corp:5000/team/app:v1", c.cache().pins().get(1));
        assertEquals(new GcConfig(Duration.ofHours(2), Duration.ZERO), c.gc());
        assertFalse(c.gc().periodic());
    }

    @Test
    void absentSectionsAreUnboundedWithHourlyGc() throws Exception {
        MirrorConfig c = load("listen: \"127.0.0.1:5000\"\n");
        assertFalse(c.cache().isBounded());
        assertEquals(Long.MAX_VALUE, c.cache().highBytes());
        assertEquals(List.of(), c.cache().pins());
        assertEquals(GcConfig.defaults(), c.gc());
        assertEquals(CacheConfig.defaults(), MirrorConfig.defaults().cache());
    }

    @Test
    void plainBytesAndDefaultWatermarks() throws Exception {
        CacheConfig c = load("cache: {maxSize: 62914560}\n").cache();
        assertEquals(62_914_560L, c.maxSize());
        assertEquals(CacheConfig.DEFAULT_HIGH, c.highWatermark());
        assertEquals(CacheConfig.DEFAULT_LOW, c.lowWatermark());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "cache: {maxSize: lots}|cache.maxSize: expected a size",
            "cache: {maxSize: 0}|cache.maxSize: must be positive",
            "cache: {maxSize: 5XB}|cache.maxSize: unknown unit 'XB'",
            "cache: {maxSize: 1GiB, highWatermark: 1.5}|cache.highWatermark: must be above 0 and at most 1",
            "cache: {maxSize: 1GiB, highWatermark: high}|cache.highWatermark: expected a fraction",
            "cache: {maxSize: 1GiB, highWatermark: 0.5, lowWatermark: 0.6}|cache.lowWatermark: must be above 0 and below the high watermark",
            "cache: {pins: [Docker.io/Alpine]}|cache.pins[0]: 'Docker.io/Alpine' is not an image reference",
            "cache: {pins: [alpine, alpine]}|cache.pins[1]: 'alpine' is listed twice",
            "cache: {pins: ['']}|cache.pins[0]: expected an image reference",
            "cache: {maxsize: 1GiB}|cache.maxsize: unknown field",
            "gc: {gracePeriod: soon}|gc.gracePeriod: expected a duration",
            "gc: {interval: -5s}|gc.interval: expected a duration"})
    void errorsNameTheFileAndField(String yaml, String message) throws Exception {
        Path file = Files.writeString(dir.resolve("bad.yaml"), yaml + "\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void recordRefusesBadWatermarksDirectly() {
        assertThrows(IllegalArgumentException.class, () -> new CacheConfig(100, 0.8, 0.8, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new CacheConfig(-1, 0.9, 0.8, List.of()));
        assertEquals(80, new CacheConfig(100, 0.9, 0.8, null).lowBytes());
    }

    private MirrorConfig load(String yaml) throws Exception {
        return ConfigLoader.load(Files.writeString(dir.resolve("c.yaml"), yaml));
    }
}
