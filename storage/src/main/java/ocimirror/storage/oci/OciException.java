package ocimirror.storage.oci;

/** A refusal with an OCI error code; the server writes it as the spec's error JSON. */
public final class OciException extends RuntimeException {
    private final OciError error;
    private final String detail;

    public OciException(OciError error, String detail) {
        this(error, detail, null);
    }

    public OciException(OciError error, String detail, Throwable cause) {
        super(error + (detail == null ? "" : ": " + detail), cause);
        this.error = error;
        this.detail = detail;
    }

    public OciError error() {
        return error;
    }

    /** Free text for the {@code detail} field; may be null. */
    public String detail() {
        return detail;
    }
}
