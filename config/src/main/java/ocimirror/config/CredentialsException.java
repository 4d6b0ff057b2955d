package ocimirror.config;

/**
 * A credential source that cannot be used: unreadable file, malformed JSON, an entry without
 * usable credentials. The message names the file and, where there is one, the entry.
 */
public final class CredentialsException extends RuntimeException {

    public CredentialsException(String message) {
        super(message);
    }

    public CredentialsException(String message, Throwable cause) {
        super(message, cause);
    }
}
