package ocimirror.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import ocimirror.server.access.RequestRecord;

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
    /**
     * This side stopped reading at some point since the last reader-idle check: a quiet body over
     * that time is not the client's stall.
     */
    boolean readingStopped;
    /** Body bytes dropped after an early response. */
    long discarded;
    /** The connection is gone or the exchange was replaced. */
    boolean over;
    /** A response body is still being written after the exchange was answered (a blob still downloading). */
    boolean streaming;
    /** The {@code ns} of a proxied request, echoed in {@code OCI-Namespace} on every response; or null. */
    String namespace;
    /** What the access log and the request metrics will say about this request. */
    final RequestRecord record;

    Exchange(HttpRequest request, RequestRecord record) {
        this.request = request;
        this.record = record;
        this.head = HttpMethod.HEAD.equals(request.method());
    }
}
