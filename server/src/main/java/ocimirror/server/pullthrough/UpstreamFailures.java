package ocimirror.server.pullthrough;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;

/**
 * What a client is told when the upstream failed and nothing usable is cached. The choices:
 *
 * <ul>
 *   <li>{@code NOT_FOUND} → {@code MANIFEST_UNKNOWN} / {@code BLOB_UNKNOWN}, 404, as the upstream said.
 *   <li>{@code UNAUTHORIZED} → {@code DENIED}, 403: the upstream refused the mirror's own
 *       credentials (or anonymous access). Not 401: the client's credentials have nothing to do
 *       with it, and a 401 would make it retry with them.
 *   <li>{@code RATE_LIMITED} → {@code TOOMANYREQUESTS}, 429: the client may back off.
 *   <li>unreachable, 5xx, timeouts, and responses the mirror cannot use (including content that
 *       does not match its digest, and an answer to a manifest request that is not a manifest)
 *       → {@code UNAVAILABLE}, 503: containerd then tries its next host, which is what should happen.
 * </ul>
 *
 * Every message names the upstream (the client cannot see which one the mirror used). Anything
 * else (a bug, a disk failure) stays as it is, for the error responder to log and answer 500.
 */
final class UpstreamFailures {

    private UpstreamFailures() {
    }

    /** Unwraps {@code CompletionException}s. */
    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /**
     * @param unknown the code for "not there" ({@code MANIFEST_UNKNOWN} or {@code BLOB_UNKNOWN})
     * @param what    what was asked for, e.g. "manifest library/nginx:latest"
     */
    static RuntimeException toOci(Throwable failure, String upstream, OciError unknown, String what) {
        Throwable t = unwrap(failure);
        if (t instanceof OciException oci) {
            return oci;
        }
        if (t instanceof UpstreamException u) {
            String detail = u.getMessage();
            return switch (u.kind()) {
                case NOT_FOUND -> unknown.exception(what + " not found at upstream '" + upstream + "'");
                case UNAUTHORIZED -> OciError.DENIED.exception("upstream '" + upstream + "' refused the mirror's"
                        + " credentials for " + what + " (check the credentials configured for it): " + detail);
                case RATE_LIMITED -> OciError.TOOMANYREQUESTS.exception("upstream '" + upstream
                        + "' is rate limiting the mirror and " + what + " is not cached: " + detail);
                case INVALID_MANIFEST -> OciError.UNAVAILABLE.exception(detail); // names the upstream already
                case PROTOCOL -> OciError.UNAVAILABLE.exception("upstream '" + upstream
                        + "' sent a response the mirror cannot use for " + what + ": " + detail);
                default -> OciError.UNAVAILABLE.exception("upstream '" + upstream + "' is unavailable and " + what
                        + " is not cached: " + detail);
            };
        }
        if (t instanceof CancellationException) {
            return OciError.UNAVAILABLE.exception("the mirror is shutting down");
        }
        // A bug or an I/O failure: left as it is, so that ErrorResponses logs it and answers 500.
        return t instanceof RuntimeException re ? re : new CompletionException(t);
    }

    /** An outage: serving a stale copy is the right answer. */
    static boolean isOutage(Throwable failure) {
        return unwrap(failure) instanceof UpstreamException u && u.kind().isOutage();
    }

    static boolean isNotFound(Throwable failure) {
        return unwrap(failure) instanceof UpstreamException u && u.kind() == UpstreamException.Kind.NOT_FOUND;
    }
}
