package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code pullThrough.prefetch}: the images warmed at start. */
class PrefetchConfigTest {

    @Test
    void imagesAreReadAsWritten() throws ConfigException {
        MirrorConfig c = ConfigLoader.parse("pullThrough:\n  prefetch: [gcr.io/team/app:1, nginx,"
                + " 'registry.corp:5000/team/x@sha256:" + "a".repeat(64) + "']\n", "m.yaml", false);
        assertEquals(List.of("gcr.io/team/app:1", "nginx", "registry.corp:5000/team/x@sha256:" + "a".repeat(64)),
                c.pullThrough().prefetch());
        assertTrue(c.pullThrough().prefetchLayers(), "the other keys keep their defaults");
    }

    @Test
    void noListIsAnEmptyOne() throws ConfigException {
        assertEquals(List.of(), ConfigLoader.parse("pullThrough: {prefetchLayers: false}\n", "m.yaml", false)
                .pullThrough().prefetch());
        assertEquals(List.of(), new MirrorConfig.PullThrough(true, Duration.ZERO).prefetch());
    }

    @Test
    void aMistypedImageNamesTheEntry() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "pullThrough:\n  prefetch: [nginx, 'Team/App:1']\n", "m.yaml", false));
        assertTrue(e.getMessage().contains("m.yaml: pullThrough.prefetch[1]: 'Team/App:1' is not an image name"),
                e.getMessage());
        ConfigException n = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "pullThrough:\n  prefetch: [3]\n", "m.yaml", false));
        assertTrue(n.getMessage().contains("pullThrough.prefetch[0]"), n.getMessage());
    }

    @Test
    void prefetchPlatformsAreReadAndChecked() throws ConfigException {
        MirrorConfig c = ConfigLoader.parse("pullThrough:\n  prefetchPlatforms: [linux/amd64, linux/arm64/v8]\n",
                "m.yaml", false);
        assertEquals(List.of("linux/amd64", "linux/arm64/v8"), c.pullThrough().prefetchPlatforms());
        assertEquals(List.of(), MirrorConfig.PullThrough.defaults().prefetchPlatforms(), "default: none");
        for (String bad : List.of("linux", "Linux/amd64", "linux/amd64/v8/x", "linux//amd64", "linux/amd 64")) {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                    "pullThrough:\n  prefetchPlatforms: [linux/arm64, '" + bad + "']\n", "m.yaml", false));
            assertTrue(e.getMessage().startsWith("m.yaml: pullThrough.prefetchPlatforms[1]: '" + bad
                    + "' is not a platform os/architecture[/variant]"), e.getMessage());
        }
        ConfigException twice = assertThrows(ConfigException.class, () -> ConfigLoader.parse(
                "pullThrough:\n  prefetchPlatforms: [linux/amd64, linux/amd64]\n", "m.yaml", false));
        assertTrue(twice.getMessage().contains("prefetchPlatforms[1]: 'linux/amd64' is listed twice"),
                twice.getMessage());
    }
}
