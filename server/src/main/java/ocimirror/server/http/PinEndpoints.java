package ocimirror.server.http;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import ocimirror.server.cache.CacheMaintenance;
import ocimirror.server.cache.PinnedImage;
import ocimirror.server.route.OciRoute;
import ocimirror.storage.oci.OciError;

/**
 * The admin API's pins, on the admin listener only:
 * <ul>
 *   <li>{@code GET /admin/pins}: {@code {"pins":[{"image":"...","source":"config"|"store"}...]}},
 *       the pins in force ({@code config}: {@code cache.pins}; {@code store}: added by
 *       {@code ocimirror pin add} or this API, kept in the data directory);</li>
 *   <li>{@code GET /admin/pins/<image>}: that entry, or 404;</li>
 *   <li>{@code PUT /admin/pins/<image>}: pins it, 201 (200 if it was pinned), body the entry; the
 *       image is fetched in the background from then on. 400 {@code NAME_INVALID} when no upstream
 *       or hosted namespace serves it;</li>
 *   <li>{@code DELETE /admin/pins/<image>}: 204, 404 if it is not pinned, 403 {@code DENIED} for a
 *       pin of {@code cache.pins} (only the configuration file removes it).</li>
 * </ul>
 * {@code PUT} and {@code DELETE} are refused (403 {@code DENIED}) unless the caller allows them:
 * the admin listener does for loopback clients only.
 * Answers are futures of whole responses, as {@link OpsEndpoints}'; the store is written on the
 * storage executor by {@link CacheMaintenance}, never on the caller's event loop.
 */
public final class PinEndpoints {
    private static final String JSON = "application/json; charset=utf-8";
    /** Thread-safe once built; shared, as a mapper is heavy. */
    private static final JsonMapper MAPPER = new JsonMapper();

    private final CacheMaintenance cache;

    public PinEndpoints(CacheMaintenance cache) {
        this.cache = requireNonNull(cache, "cache");
    }

    /** Whether {@code route} is one of these endpoints. */
    public static boolean handles(OciRoute route) {
        return route instanceof OciRoute.AdminPins || route instanceof OciRoute.AdminPin;
    }

    /**
     * The response to {@code method} on {@code route} (one that {@link #handles}).
     *
     * @param mayChange whether the client may add or remove pins (the admin listener allows it to
     *                  loopback clients only); reads are always answered
     */
    public CompletableFuture<FullHttpResponse> answer(OciRoute route, HttpMethod method, boolean mayChange) {
        boolean read = HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method);
        boolean head = HttpMethod.HEAD.equals(method);
        if (route instanceof OciRoute.AdminPins) {
            if (!read) {
                return notAllowed(method, "GET");
            }
            ObjectNode root = MAPPER.createObjectNode();
            var array = root.putArray("pins");
            for (PinnedImage pin : cache.pins()) {
                array.add(entry(pin.image()));
            }
            return CompletableFuture.completedFuture(json(HttpResponseStatus.OK, root, head));
        }
        if (!(route instanceof OciRoute.AdminPin one)) {
            return CompletableFuture.failedFuture(OciError.NOT_FOUND.exception(null));
        }
        String image = one.image();
        boolean change = HttpMethod.PUT.equals(method) || HttpMethod.DELETE.equals(method);
        if (change && !mayChange) {
            return CompletableFuture.failedFuture(OciError.DENIED.exception("pins change only from this host"
                    + " (the admin listener has no credentials): run ocimirror pin --server on it, or go through"
                    + " kubectl exec or kubectl port-forward"));
        }
        if (read) {
            List<PinnedImage> pins = cache.pins();
            return pins.stream().anyMatch(p -> p.image().equals(image))
                    ? CompletableFuture.completedFuture(json(HttpResponseStatus.OK, entry(image), head))
                    : CompletableFuture.failedFuture(OciError.NOT_FOUND.exception(image + " is not pinned"));
        } else if (HttpMethod.PUT.equals(method)) {
            return add(image);
        } else if (HttpMethod.DELETE.equals(method)) {
            return remove(image);
        }
        return notAllowed(method, "GET, PUT, DELETE");
    }

    private CompletableFuture<FullHttpResponse> add(String image) {
        CompletableFuture<CacheMaintenance.PinAdded> added;
        try {
            added = cache.addPin(image);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(OciError.NAME_INVALID.exception(e.getMessage()));
        }
        return added.thenApply(a -> json(a.created() ? HttpResponseStatus.CREATED : HttpResponseStatus.OK,
                entry(image), false));
    }

    private CompletableFuture<FullHttpResponse> remove(String image) {
        return cache.removePin(image).thenApply(result -> switch (result) {
            case REMOVED -> Responses.noContent();
            case NOT_PINNED -> throw OciError.NOT_FOUND.exception(image + " is not pinned");
            case IN_CONFIG -> throw OciError.DENIED.exception(image + " is pinned by the configuration file"
                    + " (cache.pins): remove it there and restart the server");
        });
    }

    private ObjectNode entry(String image) {
        ObjectNode e = MAPPER.createObjectNode();
        e.put("image", image);
        e.put("source", cache.pinnedByConfig(image) ? "config" : "store");
        return e;
    }

    private static CompletableFuture<FullHttpResponse> notAllowed(HttpMethod method, String allowed) {
        return CompletableFuture.failedFuture(OciError.METHOD_NOT_ALLOWED.exception(method
                + " is not supported here (" + allowed + ")"));
    }

    private static FullHttpResponse json(HttpResponseStatus status, ObjectNode body, boolean head) {
        byte[] bytes;
        try {
            bytes = MAPPER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        FullHttpResponse r = head ? Responses.headOnly(status, bytes.length, JSON) : Responses.full(status, bytes, JSON);
        r.headers().set("Cache-Control", "no-store");
        return r;
    }
}
