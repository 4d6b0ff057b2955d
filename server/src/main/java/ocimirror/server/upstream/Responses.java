package ocimirror.server.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import ocimirror.server.upstream.UpstreamException.Kind;

/** Turns an unwanted response into a typed {@link UpstreamException}. */
final class Responses {

    private Responses() {
    }

    /**
     * @param what what was asked, e.g. {@code "GET https://host/v2/x/manifests/1"}
     */
    static UpstreamException failure(String upstream, String what, RawResponse r, Clock clock, ObjectMapper json) {
        int s = r.status();
        Kind kind = switch (s) {
            case 404 -> Kind.NOT_FOUND;
            case 401, 403 -> Kind.UNAUTHORIZED;
            case 429 -> Kind.RATE_LIMITED;
            default -> s >= 500 ? Kind.UPSTREAM_ERROR : Kind.PROTOCOL;
        };
        Duration retryAfter = s == 429 || s == 503 ? retryAfter(r.headers(), clock) : null;
        String msg = "upstream '" + upstream + "' answered " + s + " to " + what + errorDetail(r.body(), json)
                + (retryAfter == null ? "" : " (Retry-After " + retryAfter.toSeconds() + " s)");
        return new UpstreamException(kind, s, retryAfter, 1, msg, null);
    }

    /** {@code Retry-After} as delta-seconds or an HTTP date; null if absent or unreadable. */
    static Duration retryAfter(HttpHeaders headers, Clock clock) {
        String v = headers.get("Retry-After");
        if (v == null || v.isBlank()) {
            return null;
        }
        v = v.trim();
        try {
            long seconds = Long.parseLong(v);
            return seconds < 0 ? null : Duration.ofSeconds(seconds);
        } catch (NumberFormatException notSeconds) {
            try {
                Duration d = Duration.between(clock.instant(),
                        ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
                return d.isNegative() ? Duration.ZERO : d;
            } catch (RuntimeException notDate) {
                return null;
            }
        }
    }

    /** ": CODE: message" from an OCI error body, else a short excerpt of a text body. */
    static String errorDetail(byte[] body, ObjectMapper json) {
        if (body == null || body.length == 0) {
            return "";
        }
        try {
            JsonNode first = json.readTree(body).path("errors").path(0);
            if (first.hasNonNull("code")) {
                String m = first.path("message").asText("");
                return ": " + first.get("code").asText() + (m.isEmpty() ? "" : ": " + m);
            }
        } catch (Exception notJson) {
            // fall through to the text excerpt
        }
        String text = new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8)
                .replaceAll("\\s+", " ").trim();
        return text.isEmpty() || text.chars().anyMatch(ch -> ch < 0x20) ? "" : ": " + text;
    }
}
