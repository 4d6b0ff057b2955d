package ocimirror.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Assertions on registry responses: status, OCI error code and the API version header. */
public final class OciAssertions {

    public static final String API_VERSION_HEADER = "Docker-Distribution-API-Version";
    private static final ObjectMapper JSON = new ObjectMapper();

    private OciAssertions() {
    }

    /**
     * The response is an OCI error with one of {@code statuses} and {@code errors[0].code} in
     * {@code codes} (any code if {@code codes} is null: HTTP-level refusals have no spec code).
     */
    public static void assertOciError(RawHttp.Response r, Set<Integer> statuses, Set<String> codes) {
        assertTrue(statuses.contains(r.status()), () -> "expected status in " + statuses + ", got " + r);
        assertApiVersion(r);
        String code = errorCode(r.body()).orElseThrow(() -> new AssertionError("no OCI error body in " + r));
        assertTrue(codes == null || codes.contains(code), () -> "expected errors[0].code in " + codes + ", got " + r);
        assertFalse(new String(r.body(), StandardCharsets.ISO_8859_1).contains("root:x:0:0"),
                () -> "response leaks /etc/passwd: " + r);
    }

    public static void assertOciError(HttpResponse<byte[]> r, Set<Integer> statuses, Set<String> codes) {
        assertOciError(RawHttp.Response.of(r), statuses, codes);
    }

    public static void assertApiVersion(RawHttp.Response r) {
        assertEquals(Optional.of("registry/2.0"), r.header(API_VERSION_HEADER),
                () -> "missing " + API_VERSION_HEADER + ": " + r);
    }

    public static void assertApiVersion(HttpResponse<?> r) {
        assertEquals(Optional.of("registry/2.0"), r.headers().firstValue(API_VERSION_HEADER),
                () -> "missing " + API_VERSION_HEADER + " on " + r.request().method() + " " + r.uri()
                        + " -> " + r.statusCode() + " " + r.headers().map());
    }

    /**
     * The OCI layout skopeo wrote at {@code layout} names exactly {@code topDigest} and holds
     * each of {@code blobs} with identical bytes.
     */
    public static void assertLayoutHolds(Path layout, String topDigest, List<OciLayoutBuilder.Blob> blobs)
            throws IOException {
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        assertEquals(1, index.path("manifests").size(), () -> "index.json: " + index);
        assertEquals(topDigest, index.path("manifests").path(0).path("digest").asText(), "copied-out digest");
        for (OciLayoutBuilder.Blob blob : blobs) {
            Path copy = layout.resolve("blobs/sha256").resolve(blob.digest().substring("sha256:".length()));
            assertTrue(Files.exists(copy), () -> "missing " + blob.digest() + " (" + blob.mediaType() + ")");
            assertEquals(-1L, Files.mismatch(blob.file(), copy), () -> "bytes differ for " + blob.digest());
        }
    }

    /** {@code errors[0].code} of an OCI error body, if it is one. */
    public static Optional<String> errorCode(byte[] body) {
        try {
            JsonNode code = JSON.readTree(body).path("errors").path(0).path("code");
            return code.isTextual() ? Optional.of(code.asText()) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
