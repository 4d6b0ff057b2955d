package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

    @ParameterizedTest
    @CsvSource({
            "500MiB, 524288000", "50GiB, 53687091200", "1.5GiB, 1610612736", "2TB, 2000000000000",
            "10kB, 10000", "3KiB, 3072", "1024, 1024", "7B, 7", "60 MiB, 62914560", "1TiB, 1099511627776"})
    void strings(String text, long bytes) {
        assertEquals(bytes, Sizes.parse(text));
    }

    @Test
    void yamlIntegersAreBytes() {
        assertEquals(4096, Sizes.parse(4096));
        assertEquals(10_000_000_000L, Sizes.parse(10_000_000_000L));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "big", "5 GiBs", "5Gib", "-5MiB", "1.5", "5XB", "999999999999999TiB", "MiB"})
    void refused(String text) {
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(text));
    }

    @Test
    void refusesNegativesAndOtherTypes() {
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(-1));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(1.5));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(true));
    }

    @Test
    void formatsInBinaryUnits() {
        assertEquals("512 B", Sizes.format(512));
        assertEquals("60.0 MiB", Sizes.format(60L << 20));
        assertEquals("1.5 GiB", Sizes.format(3L << 29));
    }
}
