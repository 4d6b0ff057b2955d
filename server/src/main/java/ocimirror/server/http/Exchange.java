package ocimirror.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;

/**
 * One request and its response on a connection. Event loop only. Asynchronous work captures
 * its exchange, so a late completion can tell that its request is over (the client left).
 */
final class Exchange {
    final HttpRequest request;
    final boolean head;
    /** Where the body goes; null: it is discarded. */
    RequestBody body;
    /** The last content of the request has arrived. */
    boolean requestComplete;
    boolean responded;
    /** The body consumer asked to stop reading until its writes catch up. */
    boolean paused;
    /** Body bytes dropped after an early response. */
    long discarded;
    /** The connection is gone or the exchange was replaced. */
    boolean over;

    Exchange(HttpRequest request) {
        this.request = request;
        this.head = HttpMethod.HEAD.equals(request.method());
    }
}
