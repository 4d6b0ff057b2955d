package ocimirror.server.upstream;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Why an upstream request failed, typed so the caller can decide between failing the client
 * request and serving a stale cached copy ({@link Kind#isOutage()}).
 */
public final class UpstreamException extends RuntimeException {

    /** What went wrong, from the mirror's point of view. */
    public enum Kind {
        /** 404: the repository, tag, manifest or blob does not exist upstream. */
        NOT_FOUND(false),
        /** 401 or 403 after authenticating with the configured credentials (or anonymously). */
        UNAUTHORIZED(false),
        /** 429; {@link #retryAfter()} holds the upstream's {@code Retry-After} when it sent one. */
        RATE_LIMITED(true),
        /** 5xx, or the connection dropped mid-response. */
        UPSTREAM_ERROR(true),
        /** DNS, connect or TLS failure (an untrusted or mismatched certificate has an {@code SSLException} cause). */
        UNREACHABLE(true),
        /** No response headers within the first-byte timeout, or a body stalled past the idle timeout. */
        TIMEOUT(true),
        /** A response the client cannot use: unexpected status, bad header, manifest too large, redirect loop. */
        PROTOCOL(false),
        /**
         * A manifest request answered with something that is not a manifest (a captive portal's or a
         * proxy's page): the registry itself is not what answered, so it counts as an outage.
         */
        INVALID_MANIFEST(true);

        private final boolean outage;

        Kind(boolean outage) {
            this.outage = outage;
        }

        /** True when the upstream could not answer now, so serving a cached copy is the right response. */
        public boolean isOutage() {
            return outage;
        }
    }

    private final Kind kind;
    private final int status;
    private final Duration retryAfter;
    private final int attempts;

    public UpstreamException(Kind kind, int status, Duration retryAfter, int attempts, String message, Throwable cause) {
        super(message, cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.status = status;
        this.retryAfter = retryAfter;
        this.attempts = attempts;
    }

    public UpstreamException(Kind kind, String message) {
        this(kind, 0, null, 1, message, null);
    }

    public UpstreamException(Kind kind, String message, Throwable cause) {
        this(kind, 0, null, 1, message, cause);
    }

    public Kind kind() {
        return kind;
    }

    /** The HTTP status that caused it, or 0 when there was none (connect failure, timeout). */
    public int status() {
        return status;
    }

    /** The upstream's {@code Retry-After}, if it sent one with a 429 or 503. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }

    /** How many times the request was sent (1 + retries). */
    public int attempts() {
        return attempts;
    }

    /** The same failure, recording the number of attempts made. */
    UpstreamException withAttempts(int n) {
        if (n == attempts) {
            return this;
        }
        String msg = getMessage();
        if (n > 1) {
            msg = msg + " (after " + n + " attempts)";
        }
        UpstreamException e = new UpstreamException(kind, status, retryAfter, n, msg, getCause());
        e.setStackTrace(getStackTrace());
        return e;
    }

    /** Finds the {@code UpstreamException} inside the wrappers a {@code CompletableFuture} adds, or null. */
    public static UpstreamException find(Throwable t) {
        while (t instanceof CompletionException || t instanceof ExecutionException) {
            if (t.getCause() == null) {
                break;
            }
            t = t.getCause();
        }
        return t instanceof UpstreamException u ? u : null;
    }
}
