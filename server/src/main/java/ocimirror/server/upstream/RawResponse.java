package ocimirror.server.upstream;

import io.netty.handler.codec.http.HttpHeaders;

/**
 * One HTTP response, its body aggregated (small bodies, error bodies) or already streamed to a
 * sink ({@code body == null}).
 */
record RawResponse(int status, HttpHeaders headers, byte[] body) {
}
