package ocimirror.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.storage.meta.MetadataUnavailableException;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a refusal or failure becomes a response: the spec's error JSON
 * ({@code {"errors":[{"code":...,"message":...,"detail":...}]}}) with the status the
 * {@link OciError} owns. Anything that is not an {@link OciException} is a bug or an I/O
 * failure: it is logged here, once, and answered with {@code UNKNOWN} (500) without details.
 */
public final class ErrorResponses {
    private static final Logger log = LoggerFactory.getLogger(ErrorResponses.class);
    private static final String JSON = "application/json; charset=utf-8";

    private final JsonMapper json = new JsonMapper();

    public ErrorResponses() {
    }

    /** The response for {@code failure}; {@code head} leaves out the body. */
    public FullHttpResponse response(Throwable failure, boolean head) {
        OciException e = classify(failure);
        return response(e.error(), e.detail(), head);
    }

    /** The response for {@code error}. */
    public FullHttpResponse response(OciError error, String detail, boolean head) {
        HttpResponseStatus status = HttpResponseStatus.valueOf(error.httpStatus());
        if (head) {
            return Responses.headOnly(status, 0, JSON);
        }
        return Responses.full(status, body(error, detail), JSON);
    }

    /** The error JSON for one error. */
    public byte[] body(OciError error, String detail) {
        ObjectNode root = json.createObjectNode();
        ObjectNode e = root.putArray("errors").addObject();
        e.put("code", error.name());
        e.put("message", error.message());
        if (detail != null) {
            e.put("detail", detail);
        }
        try {
            return json.writeValueAsBytes(root);
        } catch (JsonProcessingException x) {
            throw new IllegalStateException(x);
        }
    }

    /** Unwraps executor wrappers; anything unexpected is logged and becomes UNKNOWN. */
    static OciException classify(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof OciException oci) {
            return oci;
        }
        if (t instanceof RejectedExecutionException) {
            log.warn("storage executor saturated: request refused with 503");
            return OciError.UNAVAILABLE.exception("the registry is busy, try again");
        }
        if (t instanceof MetadataUnavailableException) {
            log.warn("{}: request answered 503", t.getMessage());
            return OciError.UNAVAILABLE.exception("the mirror's metadata store is unreachable, try again shortly");
        }
        if (t instanceof UncheckedIOException && t.getCause() instanceof ClosedChannelException) {
            log.debug("storage closed under a request", t);
            return OciError.UNAVAILABLE.exception("the registry is shutting down");
        }
        log.error("request failed", t);
        return OciError.UNKNOWN.exception(null);
    }
}
