package ocimirror.storage.oci;

/**
 * The error codes of the OCI Distribution Spec (and the few extras Docker clients know),
 * each owning the HTTP status it is sent with. Only the server's {@code ErrorResponses}
 * turns one into a response body; everything else throws {@link OciException}.
 */
public enum OciError {
    BLOB_UNKNOWN(404, "blob unknown to registry"),
    BLOB_UPLOAD_INVALID(400, "blob upload invalid"),
    BLOB_UPLOAD_UNKNOWN(404, "blob upload unknown to registry"),
    DIGEST_INVALID(400, "provided digest did not match uploaded content"),
    MANIFEST_BLOB_UNKNOWN(404, "manifest references a manifest or blob unknown to registry"),
    MANIFEST_INVALID(400, "manifest invalid"),
    MANIFEST_UNKNOWN(404, "manifest unknown to registry"),
    NAME_INVALID(400, "invalid repository name"),
    NAME_UNKNOWN(404, "repository name not known to registry"),
    SIZE_INVALID(400, "provided length did not match content length"),
    TAG_INVALID(400, "manifest tag did not match URI"),
    UNAUTHORIZED(401, "authentication required"),
    DENIED(403, "requested access to the resource is denied"),
    UNSUPPORTED(405, "the operation is unsupported"),
    TOOMANYREQUESTS(429, "too many requests"),
    /** {@code n} is not a non-negative integer (distribution's code for the same refusal). */
    PAGINATION_NUMBER_INVALID(400, "invalid number of results requested"),
    /** A request that is not well-formed HTTP (the decoder gave up on it). */
    REQUEST_INVALID(400, "malformed request"),
    /** The request line or headers exceed the configured limit. */
    HEADERS_TOO_LARGE(431, "request header fields too large"),
    /** A {@code Range} or {@code Content-Range} that cannot be satisfied (distribution sends this code with 416). */
    RANGE_INVALID(416, "requested range not satisfiable"),
    /**
     * The request head did not arrive whole within {@code limits.requestHeadTimeout}, or its body
     * stalled for {@code limits.requestBodyTimeout}; sent with {@code Connection: close}.
     */
    REQUEST_TIMEOUT(408, "request timed out"),
    /** Headers or body larger than the configured limit. */
    SIZE_TOO_LARGE(413, "request entity too large"),
    /** An endpoint or method the registry does not have. */
    NOT_FOUND(404, "not found"),
    METHOD_NOT_ALLOWED(405, "method not allowed"),
    UNAVAILABLE(503, "service unavailable"),
    UNKNOWN(500, "unknown error");

    private final int httpStatus;
    private final String message;

    OciError(int httpStatus, String message) {
        this.httpStatus = httpStatus;
        this.message = message;
    }

    public int httpStatus() {
        return httpStatus;
    }

    /** The spec's default message for this code. */
    public String message() {
        return message;
    }

    /** A throwable carrying this code and a detail for the operator or client. */
    public OciException exception(String detail) {
        return new OciException(this, detail);
    }
}
