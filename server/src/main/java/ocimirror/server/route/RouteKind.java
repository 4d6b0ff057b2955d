package ocimirror.server.route;

/**
 * A route's kind: the {@code route} label of the request metrics and the access log. A small,
 * fixed set, so that a metric label never carries anything a client chose.
 */
public enum RouteKind {
    BASE, CATALOG, TAGS, MANIFEST, BLOB, UPLOAD_START, UPLOAD, REFERRERS, METRICS, HEALTHZ, READYZ, NOT_FOUND,
    /** A request whose target or headers did not parse. */
    INVALID;

    private final String label = name().toLowerCase(java.util.Locale.ROOT);

    /** The lower-case name used as a label value. */
    public String label() {
        return label;
    }

    /** Whether this is one of {@link OpsPaths}' routes (metrics and probes). */
    public boolean ops() {
        return this == METRICS || this == HEALTHZ || this == READYZ;
    }

    public static RouteKind of(OciRoute route) {
        if (route instanceof OciRoute.Base) {
            return BASE;
        } else if (route instanceof OciRoute.Catalog) {
            return CATALOG;
        } else if (route instanceof OciRoute.Tags) {
            return TAGS;
        } else if (route instanceof OciRoute.Manifest || route instanceof OciRoute.InvalidManifestReference) {
            return MANIFEST;
        } else if (route instanceof OciRoute.Blob) {
            return BLOB;
        } else if (route instanceof OciRoute.UploadStart) {
            return UPLOAD_START;
        } else if (route instanceof OciRoute.Upload) {
            return UPLOAD;
        } else if (route instanceof OciRoute.Referrers) {
            return REFERRERS;
        } else if (route instanceof OciRoute.Metrics) {
            return METRICS;
        } else if (route instanceof OciRoute.Healthz) {
            return HEALTHZ;
        } else if (route instanceof OciRoute.Readyz) {
            return READYZ;
        }
        return NOT_FOUND;
    }
}
