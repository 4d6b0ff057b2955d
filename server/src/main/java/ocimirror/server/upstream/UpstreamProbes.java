package ocimirror.server.upstream;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;

/**
 * The upstream client's own trust and authentication code ({@link UpstreamTls},
 * {@link UpstreamAuth}, {@link AuthChallenge}) opened up for {@code ocimirror doctor}, which
 * drives it over JDK sockets and {@link HttpClient}: the diagnosis then tests exactly what the
 * mirror does, not a copy that could drift. No Netty type crosses this API.
 */
public final class UpstreamProbes {

    private UpstreamProbes() {
    }

    /** One challenge of a {@code WWW-Authenticate} header; scheme lower case ({@code basic}, {@code bearer}). */
    public record Challenge(String scheme, Map<String, String> params) {
        public String param(String name) {
            return params.get(name);
        }
    }

    /**
     * The trust the mirror's client has for {@code upstream}: the JDK's default trust, plus every
     * certificate of its {@code caCert} when one is set (as {@link UpstreamTls#clientContext} builds it).
     *
     * @throws IllegalArgumentException naming the caCert file if it cannot be read or holds no certificate
     */
    public static X509ExtendedTrustManager trustManager(UpstreamConfig upstream) {
        TrustManagerFactory tmf;
        if (upstream.caCert() != null) {
            tmf = UpstreamTls.systemPlus(upstream.caCert());
        } else {
            try {
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init((KeyStore) null);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("cannot load the JDK's trust store: " + e.getMessage(), e);
            }
        }
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new IllegalStateException("the JDK offers no X509ExtendedTrustManager");
    }

    /** Every challenge in the {@code WWW-Authenticate} values, in order. */
    public static List<Challenge> challenges(List<String> wwwAuthenticate) {
        List<Challenge> out = new ArrayList<>();
        for (String h : wwwAuthenticate) {
            for (AuthChallenge c : AuthChallenge.parse(h)) {
                out.add(new Challenge(c.scheme(), c.params()));
            }
        }
        return out;
    }

    /**
     * The {@code Authorization} value the mirror's client would retry with after a 401 carrying
     * {@code wwwAuthenticate}: Basic with the credentials, or a Bearer token fetched from the
     * challenge's realm (with the credentials, or anonymously), for {@code scope} (null: none).
     *
     * @param http    sends the token request (no redirects are followed, as in the mirror)
     * @param timeout bound on the token request
     * @return completes with null when there is nothing to send (Basic asked, no credentials); fails
     *         with an {@link UpstreamException} when the token endpoint refuses or answers nonsense
     */
    public static CompletableFuture<String> authorization(UpstreamConfig upstream,
                                                          Optional<RegistryCredentials> credentials,
                                                          List<String> wwwAuthenticate, String scope,
                                                          HttpClient http, Duration timeout, Clock clock) {
        Objects.requireNonNull(http, "http");
        Objects.requireNonNull(timeout, "timeout");
        UpstreamAuth auth = new UpstreamAuth(upstream.name(), credentials, upstream.plainHttp(), clock,
                new ObjectMapper(), (uri, authorization) -> get(http, uri, authorization, timeout));
        return auth.onUnauthorized(wwwAuthenticate, scope, null);
    }

    private static CompletableFuture<RawResponse> get(HttpClient http, URI uri, String authorization, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return http.sendAsync(b.build(), HttpResponse.BodyHandlers.ofByteArray())
                .handle((resp, e) -> {
                    if (e != null) {
                        Throwable cause = e.getCause() != null ? e.getCause() : e;
                        throw new UpstreamException(UpstreamException.Kind.UNREACHABLE, "token endpoint "
                                + uri.getScheme() + "://" + uri.getRawAuthority() + uri.getRawPath()
                                + " unreachable: " + cause, cause);
                    }
                    HttpHeaders headers = new DefaultHttpHeaders();
                    resp.headers().map().forEach(headers::add);
                    return new RawResponse(resp.statusCode(), headers, resp.body());
                });
    }
}
