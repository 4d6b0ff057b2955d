package ocimirror.storage.s3;

import java.io.IOException;

/** S3 answered with an error: its HTTP status and, when it sent one, its error code ({@code NoSuchUpload}). */
public final class S3Exception extends IOException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String code;

    S3Exception(String what, int status, String code, String message) {
        super(what + ": HTTP " + status + (code == null ? "" : " " + code) + (message == null ? "" : " (" + message + ")"));
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    /** The {@code <Code>} of the error document, or null. */
    public String code() {
        return code;
    }
}
