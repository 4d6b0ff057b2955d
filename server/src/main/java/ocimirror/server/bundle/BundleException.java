package ocimirror.server.bundle;

import java.io.IOException;

/** A bundle that cannot be imported (malformed, incomplete, tampered), or an image that cannot be exported; the message says which part and why. */
public final class BundleException extends IOException {
    private static final long serialVersionUID = 1L;

    public BundleException(String message) {
        super(message);
    }

    public BundleException(String message, Throwable cause) {
        super(message, cause);
    }
}
