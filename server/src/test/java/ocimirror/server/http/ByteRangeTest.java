package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ByteRangeTest {
    static Stream<Arguments> ranges() {
        ByteRange.Result whole = new ByteRange.Whole();
        ByteRange.Result refused = new ByteRange.Unsatisfiable();
        return Stream.of(
                Arguments.of(null, 100L, whole),
                Arguments.of("bytes=0-9", 100L, partial(0, 9)),
                Arguments.of("bytes=90-", 100L, partial(90, 99)),
                Arguments.of("bytes=90-500", 100L, partial(90, 99)),
                Arguments.of("bytes=-10", 100L, partial(90, 99)),
                Arguments.of("bytes=-500", 100L, partial(0, 99)),
                Arguments.of("BYTES= 5 - 6 ", 100L, partial(5, 6)),
                Arguments.of("bytes=0-0", 1L, partial(0, 0)),
                Arguments.of("bytes=0-1,5-6", 100L, whole),
                Arguments.of("bytes=100-", 100L, refused),
                Arguments.of("bytes=-0", 100L, refused),
                Arguments.of("bytes=0-", 0L, refused),
                Arguments.of("bytes=-5", 0L, refused),
                Arguments.of("bytes=9-3", 100L, refused),
                Arguments.of("bytes=a-b", 100L, refused),
                Arguments.of("bytes=5", 100L, refused),
                Arguments.of("items=0-5", 100L, refused),
                Arguments.of("bytes=99999999999999999999-", 100L, refused));
    }

    static ByteRange.Result partial(long start, long end) {
        return new ByteRange.Partial(new ByteRange(start, end));
    }

    @ParameterizedTest(name = "{0} of {1}")
    @MethodSource("ranges")
    void parses(String header, long size, ByteRange.Result expected) {
        assertEquals(expected, ByteRange.parse(header, size));
    }

    @org.junit.jupiter.api.Test
    void contentRange() {
        assertEquals("bytes 2-5/10", new ByteRange(2, 5).contentRange(10));
        assertEquals(4, new ByteRange(2, 5).length());
    }
}
