package ocimirror.server.upstream;

/**
 * A pooled keep-alive connection turned out to be closed by the upstream before it answered:
 * the request never reached it, so it is sent again at once on a fresh connection.
 */
final class StaleConnectionException extends Exception {

    StaleConnectionException(String message, Throwable cause) {
        super(message, cause, false, false);
    }

    UpstreamException asUpstream() {
        return new UpstreamException(UpstreamException.Kind.UPSTREAM_ERROR, getMessage(), getCause());
    }
}
