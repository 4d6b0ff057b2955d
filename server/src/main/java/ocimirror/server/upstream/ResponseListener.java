package ocimirror.server.upstream;

import io.netty.handler.codec.http.HttpHeaders;

/**
 * Sees the status and headers of every response an upstream's own origin sends (not its token
 * realm's, nor the blob storage it redirects to), on a network thread: for metrics that only
 * headers carry, such as Docker Hub's {@code ratelimit-remaining}. Must be quick and not throw.
 */
@FunctionalInterface
public interface ResponseListener {
    ResponseListener NONE = (upstream, status, headers) -> { };

    void onResponse(String upstream, int status, HttpHeaders headers);
}
