package ocimirror.server.upstream;

import java.net.URI;
import java.util.Locale;

/** Scheme, host and port: what a connection pool is keyed by and what "the same host" means for credentials. */
record Origin(String scheme, String host, int port) {

    static Origin of(URI uri) {
        String scheme = uri.getScheme() == null ? null : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!"https".equals(scheme) && !"http".equals(scheme)) {
            throw new IllegalArgumentException("not an http(s) URL: " + uri);
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("URL has no host: " + uri);
        }
        int port = uri.getPort() >= 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
        return new Origin(scheme, uri.getHost().toLowerCase(Locale.ROOT), port);
    }

    boolean tls() {
        return scheme.equals("https");
    }

    /** The host to resolve and to verify the certificate against (IPv6 without brackets). */
    String connectHost() {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** The Host header value: the port only when it is not the scheme's default. */
    String hostHeader() {
        return port == (tls() ? 443 : 80) ? host : host + ":" + port;
    }

    @Override
    public String toString() {
        return scheme + "://" + hostHeader();
    }
}
