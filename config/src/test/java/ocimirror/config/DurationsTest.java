package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

    @ParameterizedTest
    @CsvSource({
            "30s, 30000", "10m, 600000", "1h, 3600000", "1h30m, 5400000", "500ms, 500", "2d, 172800000",
            "PT10M, 600000", "pt1h, 3600000", "90, 90000", "0, 0", "0s, 0"})
    void strings(String text, long millis) {
        assertEquals(Duration.ofMillis(millis), Durations.parse(text));
    }

    @org.junit.jupiter.api.Test
    void yamlIntegersAreSeconds() {
        assertEquals(Duration.ofSeconds(600), Durations.parse(600));
        assertEquals(Duration.ofSeconds(7), Durations.parse(7L));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "soon", "10", "1.5s", "10 m", "m", "-5s", "PT-1M", "P", "10M", "1y",
            "99999999999999999999s"})
    void refused(String text) {
        if (text.equals("10")) {
            assertEquals(Duration.ofSeconds(10), Durations.parse(text));   // digits alone are seconds
            return;
        }
        assertThrows(IllegalArgumentException.class, () -> Durations.parse(text));
    }
}
