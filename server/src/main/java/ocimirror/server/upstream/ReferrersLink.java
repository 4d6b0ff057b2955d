package ocimirror.server.upstream;

import java.net.URI;

/**
 * The {@code Link: <url>; rel="next"} of a referrers page, checked before the mirror follows it:
 * an upstream may name its next page, not make the mirror ask another host (with its
 * credentials) or another path.
 */
final class ReferrersLink {
    private ReferrersLink() {
    }

    /**
     * The path and query to ask {@code origin} for, or null when {@code link} is no
     * {@code <url>} whose path is {@code path} on {@code origin} (a relative URL is on it).
     */
    static String target(String link, Origin origin, String path) {
        if (link == null) {
            return null;
        }
        int open = link.indexOf('<');
        int close = link.indexOf('>', open + 1);
        if (open < 0 || close < 0) {
            return null;
        }
        URI uri;
        try {
            uri = URI.create(link.substring(open + 1, close).trim());
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (uri.isAbsolute() || uri.getRawAuthority() != null) {
            try {
                if (!Origin.of(uri).equals(origin)) {
                    return null;
                }
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        if (!path.equals(uri.getRawPath())) {
            return null;
        }
        return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
    }
}
