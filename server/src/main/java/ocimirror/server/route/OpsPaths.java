package ocimirror.server.route;

import ocimirror.config.CacheConfig;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;

/**
 * The operator's endpoints beside the registry API: {@code /metrics}, {@code /healthz} and
 * {@code /readyz}, exact paths outside {@code /v2/} (no repository can be named like them), and
 * the admin API under {@code /admin/} (which only the admin listener serves).
 * Client authentication lets {@link #isProbe probes} through always, and {@code /metrics} when
 * the configuration says it is public: both match the raw request target exactly (query aside),
 * so an encoded or otherwise disguised path is authenticated like any other request.
 */
public final class OpsPaths {
    public static final String METRICS = "/metrics";
    public static final String HEALTHZ = "/healthz";
    public static final String READYZ = "/readyz";
    public static final String ADMIN_PINS = "/admin/pins";

    private OpsPaths() {
    }

    /**
     * The route for a decoded path, or null if it is not one of these. {@code admin}: whether the
     * admin API's paths are routes (on the admin listener) or not found like any other.
     *
     * @throws OciException NAME_INVALID for {@code /admin/pins/<image>} when the tail is no image reference
     */
    static OciRoute route(String path, boolean admin) {
        return switch (path) {
            case METRICS -> new OciRoute.Metrics();
            case HEALTHZ -> new OciRoute.Healthz();
            case READYZ -> new OciRoute.Readyz();
            case ADMIN_PINS, ADMIN_PINS + "/" -> admin ? new OciRoute.AdminPins() : null;
            default -> admin && path.startsWith(ADMIN_PINS + "/") ? pin(path.substring(ADMIN_PINS.length() + 1))
                    : null;
        };
    }

    // The image is the rest of the path, slashes and all: an image name has them, and the
    // parser has refused dot segments and escaped separators already.
    private static OciRoute pin(String image) {
        if (!CacheConfig.isImageReference(image)) {
            throw OciError.NAME_INVALID.exception("'" + image + "' is not an image reference such as"
                    + " docker.io/library/alpine:3.20");
        }
        return new OciRoute.AdminPin(image);
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
