package ocimirror.server.http;

import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;

/** Answers {@code Expect: 100-continue} as Netty does, with the registry's API version header too. */
public final class ContinueHandler extends HttpServerExpectContinueHandler {
    @Override
    protected HttpResponse acceptMessage(HttpRequest request) {
        HttpResponse r = super.acceptMessage(request);
        r.headers().set(Responses.API_VERSION, Responses.API_VERSION_VALUE);
        return r;
    }
}
