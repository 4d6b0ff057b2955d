package ocimirror.server.access;

import io.netty.handler.codec.http.HttpRequest;
import ocimirror.server.pullthrough.CacheResult;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RouteKind;

/**
 * What one request did, gathered while it is answered, for its access log line and the request
 * metrics. {@link AccessLogHandler} creates it when the request arrives and completes it when
 * the response's last byte is written; the registry handler fills in the route, the upstream and
 * what the cache did (the last possibly from a storage or network thread, hence volatile).
 */
public final class RequestRecord {
    final HttpRequest request;
    final long startNanos;
    final String id;
    final String method;
    final String path;
    final String client;
    private volatile RouteKind route;
    private volatile String upstream;
    private volatile CacheResult cache;
    private volatile OciRouteParser.ParsedRequest parsed;
    private volatile String user;
    // Event loop only, from here on.
    int status;
    /** The response's Docker-Content-Digest, kept only for the audit log. */
    String digest;
    long bytes;
    boolean headSent;

    RequestRecord(HttpRequest request, long startNanos, String id, String client) {
        this.request = request;
        this.startNanos = startNanos;
        this.id = id;
        this.method = request.method().name();
        this.path = pathOf(request.uri());
        this.client = client;
    }

    /** A record that nothing logs: for a registry handler used without an {@link AccessLogHandler} (tests). */
    public static RequestRecord detached(HttpRequest request) {
        return new RequestRecord(request, System.nanoTime(), "-", "-");
    }

    /** The id sent back in {@code X-Request-Id}. */
    public String id() {
        return id;
    }

    public void route(RouteKind kind) {
        this.route = kind;
    }

    public RouteKind route() {
        return route;
    }

    /** The parsed request (route record and {@code ns}), which sets the {@link #route} kind too. */
    public void parsed(OciRouteParser.ParsedRequest request) {
        this.parsed = request;
        this.route = RouteKind.of(request.route());
    }

    public OciRouteParser.ParsedRequest parsed() {
        return parsed;
    }

    /** The user client authentication let through. */
    public void user(String name) {
        this.user = name;
    }

    public String user() {
        return user;
    }

    /** The upstream a proxied request went to. */
    public void upstream(String name) {
        this.upstream = name;
    }

    public String upstream() {
        return upstream;
    }

    /** What the cache did (called by the pull-through service, on any thread). */
    public void cache(CacheResult result) {
        this.cache = result;
    }

    public CacheResult cache() {
        return cache;
    }

    /** The target without its query, at most 1024 characters. */
    private static String pathOf(String uri) {
        int q = uri.indexOf('?');
        String p = q < 0 ? uri : uri.substring(0, q);
        return p.length() > 1024 ? p.substring(0, 1024) + "..." : p;
    }
}
