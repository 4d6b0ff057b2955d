package ocimirror.server.http;

import static java.util.Objects.requireNonNull;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.server.metrics.Observability;
import ocimirror.server.route.OciRoute;
import ocimirror.storage.oci.OciError;

/**
 * {@code GET}/{@code HEAD} of {@code /metrics} (the Prometheus text format), {@code /healthz}
 * (200 {@code ok} while the process answers at all) and {@code /readyz} (200 {@code ok}, or 503
 * with what is wrong, from {@link ocimirror.server.metrics.Readiness}). Answers as futures of
 * whole responses, so the main listener's registry handler and the admin listener share them.
 * The scrape itself runs on the caller's thread (an event loop): it reads counters and gauges,
 * a few milliseconds at most.
 */
public final class OpsEndpoints {
    private static final String TEXT = "text/plain; charset=utf-8";

    private final Observability ops;

    public OpsEndpoints(Observability ops) {
        this.ops = requireNonNull(ops, "ops");
    }

    /** Whether {@code route} is one of these endpoints. */
    public static boolean handles(OciRoute route) {
        return route instanceof OciRoute.Metrics || route instanceof OciRoute.Healthz
                || route instanceof OciRoute.Readyz;
    }

    /**
     * The response to {@code method} on {@code route} (one that {@link #handles}); fails with
     * METHOD_NOT_ALLOWED for anything but GET and HEAD.
     */
    public CompletableFuture<FullHttpResponse> answer(OciRoute route, HttpMethod method) {
        boolean head = HttpMethod.HEAD.equals(method);
        if (!head && !HttpMethod.GET.equals(method)) {
            return CompletableFuture.failedFuture(OciError.METHOD_NOT_ALLOWED.exception(method + " is not supported here"));
        }
        if (route instanceof OciRoute.Metrics) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.OK, ops.metrics().scrape(),
                    MirrorMetrics.CONTENT_TYPE, head));
        } else if (route instanceof OciRoute.Healthz) {
            return CompletableFuture.completedFuture(text(HttpResponseStatus.OK, "ok\n", TEXT, head));
        } else if (route instanceof OciRoute.Readyz) {
            return ops.readiness().check().thenApply(r -> r.ready()
                    ? text(HttpResponseStatus.OK, "ok\n", TEXT, head)
                    : text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready: " + r.detail() + "\n", TEXT, head));
        }
        return CompletableFuture.failedFuture(OciError.NOT_FOUND.exception(null));
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body, String contentType, boolean head) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r = head ? Responses.headOnly(status, bytes.length, contentType)
                : Responses.full(status, bytes, contentType);
        // Never cached by a proxy in between: each answer is about now.
        r.headers().set("Cache-Control", "no-store");
        return r;
    }
}
