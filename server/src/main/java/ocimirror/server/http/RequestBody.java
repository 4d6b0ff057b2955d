package ocimirror.server.http;

import io.netty.buffer.ByteBuf;

/**
 * Consumes the body of the request being handled. Called on the event loop only, in order.
 * {@link #content} does not transfer ownership: retain what is kept.
 */
interface RequestBody {

    void content(ByteBuf content);

    /** The whole body has arrived. */
    void end();

    /** The request will not be completed (the client went away or sent a broken body). */
    void abort();
}
