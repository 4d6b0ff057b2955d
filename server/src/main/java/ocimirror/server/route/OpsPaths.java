package ocimirror.server.route;

/**
 * The operator's endpoints beside the registry API: {@code /metrics}, {@code /healthz} and
 * {@code /readyz}, exact paths outside {@code /v2/} (no repository can be named like them).
 * Client authentication lets {@link #isProbe probes} through always, and {@code /metrics} when
 * the configuration says it is public: both match the raw request target exactly (query aside),
 * so an encoded or otherwise disguised path is authenticated like any other request.
 */
public final class OpsPaths {
    public static final String METRICS = "/metrics";
    public static final String HEALTHZ = "/healthz";
    public static final String READYZ = "/readyz";

    private OpsPaths() {
    }

    /** The route for a decoded path, or null if it is not one of these. */
    static OciRoute route(String path) {
        return switch (path) {
            case METRICS -> new OciRoute.Metrics();
            case HEALTHZ -> new OciRoute.Healthz();
            case READYZ -> new OciRoute.Readyz();
            default -> null;
        };
    }

    /** Whether the raw request target {@code uri} is {@code /healthz} or {@code /readyz}. */
    public static boolean isProbe(String uri) {
        String p = rawPath(uri);
        return p.equals(HEALTHZ) || p.equals(READYZ);
    }

    /** Whether the raw request target {@code uri} is {@code /metrics}. */
    public static boolean isMetrics(String uri) {
        return rawPath(uri).equals(METRICS);
    }

    private static String rawPath(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }
}
