package ocimirror.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * One URL of an upstream, with the CA and credentials used for it alone: an upstream with
 * several {@code urls} fails over between them, and what the mirror holds for one host
 * (credentials, tokens) is never sent to another.
 *
 * @param url         {@code https://host[:port]} (or {@code http://} with the upstream's {@code plainHttp})
 * @param caCert      PEM file of extra CAs trusted for this URL, or null
 * @param credentials where the mirror's credentials for this URL come from
 */
public record UpstreamUrl(URI url, Path caCert, CredentialSource credentials) {

    public UpstreamUrl {
        Objects.requireNonNull(url, "url");
        credentials = credentials == null ? CredentialSource.none() : credentials;
    }

    /** Anonymous, with the system trust only. */
    public static UpstreamUrl of(String url) {
        return new UpstreamUrl(URI.create(url), null, null);
    }

    /**
     * {@code scheme://host:port}, lower case, the port always written: two URLs that differ only
     * in spelling ({@code https://a} and {@code https://A:443/}) name the same registry.
     */
    public String origin() {
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        int port = url.getPort() >= 0 ? url.getPort() : scheme.equals("http") ? 80 : 443;
        return scheme + "://" + (url.getHost() == null ? "" : url.getHost().toLowerCase(Locale.ROOT)) + ":" + port;
    }
}
