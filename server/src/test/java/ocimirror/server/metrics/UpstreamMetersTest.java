package ocimirror.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import ocimirror.server.upstream.UpstreamException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UpstreamMetersTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "null", value = {
            "ratelimit-remaining|76;w=21600|76",
            "ratelimit-remaining|0|0",
            "x-ratelimit-remaining| 12 |12",
            "ratelimit-remaining|-1|NaN",
            "ratelimit-remaining|many|NaN",
            "other|5|NaN",
    })
    void rateLimitHeaders(String header, String value, double expected) {
        HttpHeaders h = new DefaultHttpHeaders().set(header, value);
        assertEquals(expected, UpstreamMeters.parse(h, "ratelimit-remaining"));
    }

    @ParameterizedTest
    @CsvSource({"NOT_FOUND,not_found", "RATE_LIMITED,rate_limited", "UNREACHABLE,unreachable", "TIMEOUT,timeout",
            "UPSTREAM_ERROR,upstream_error", "UNAUTHORIZED,unauthorized", "PROTOCOL,protocol"})
    void outcomesAreTheFailureKinds(UpstreamException.Kind kind, String label) {
        assertEquals(label, UpstreamMeters.outcome(new CompletionException(new UpstreamException(kind, "x"))));
    }

    @org.junit.jupiter.api.Test
    void successCancellationAndAnythingElse() {
        assertEquals("ok", UpstreamMeters.outcome(null));
        assertEquals("cancelled", UpstreamMeters.outcome(new CancellationException()));
        assertEquals("error", UpstreamMeters.outcome(new IllegalStateException("disk")));
    }
}
