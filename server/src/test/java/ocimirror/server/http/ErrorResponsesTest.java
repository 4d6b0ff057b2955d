package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.storage.oci.OciError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ErrorResponsesTest {
    final ErrorResponses errors = new ErrorResponses();
    final JsonMapper json = new JsonMapper();

    @ParameterizedTest
    @EnumSource(OciError.class)
    void everyCodeGetsItsStatusAndTheSpecBody(OciError error) throws Exception {
        FullHttpResponse r = errors.response(error.exception("some detail"), false);
        try {
            assertEquals(error.httpStatus(), r.status().code());
            assertEquals("registry/2.0", r.headers().get("Docker-Distribution-API-Version"));
            assertTrue(r.headers().get(HttpHeaderNames.CONTENT_TYPE).startsWith("application/json"));
            JsonNode e = json.readTree(ByteBufUtil.getBytes(r.content())).get("errors").get(0);
            assertEquals(error.name(), e.get("code").asText());
            assertEquals(error.message(), e.get("message").asText());
            assertEquals("some detail", e.get("detail").asText());
        } finally {
            r.release();
        }
    }

    @Test
    void unexpectedFailuresAre500WithoutDetails() throws Exception {
        FullHttpResponse r = errors.response(new CompletionException(new UncheckedIOException(new IOException("disk on fire"))), false);
        try {
            assertEquals(500, r.status().code());
            String body = new String(ByteBufUtil.getBytes(r.content()));
            assertTrue(body.contains("\"UNKNOWN\""), body);
            assertFalse(body.contains("fire"), "internals stay in the log: " + body);
        } finally {
            r.release();
        }
    }

    @Test
    void wrappedOciExceptionsAreUnwrapped() {
        FullHttpResponse r = errors.response(new CompletionException(OciError.BLOB_UNKNOWN.exception(null)), false);
        assertEquals(404, r.status().code());
        r.release();
        FullHttpResponse busy = errors.response(new RejectedExecutionException(), false);
        assertEquals(503, busy.status().code());
        busy.release();
    }

    @Test
    void anUnreachableMetadataStoreIsA503AndABrokenOneA500() {
        FullHttpResponse away = errors.response(new CompletionException(
                new ocimirror.storage.meta.MetadataUnavailableException("metadata store (PostgreSQL 08001): no", null)),
                false);
        assertEquals(503, away.status().code());
        assertTrue(away.content().toString(java.nio.charset.StandardCharsets.UTF_8)
                .contains("metadata store is unreachable"));
        away.release();
        FullHttpResponse broken = errors.response(new ocimirror.storage.meta.MetadataException("corrupt", null), false);
        assertEquals(500, broken.status().code());
        broken.release();
    }

    @Test
    void headResponsesHaveNoBody() {
        FullHttpResponse r = errors.response(OciError.MANIFEST_UNKNOWN, "x", true);
        assertEquals(404, r.status().code());
        assertEquals(0, r.content().readableBytes());
        r.release();
    }
}
