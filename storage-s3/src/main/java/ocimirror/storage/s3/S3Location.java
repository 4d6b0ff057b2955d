package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.util.Locale;

/**
 * Where the blobs live: the endpoint ({@code https://s3.eu-west-1.amazonaws.com},
 * {@code http://minio:9000}), the region requests are signed for, the bucket, and whether the
 * bucket goes in the path ({@code /bucket/key}: MinIO, Ceph RGW, s3proxy and other endpoints
 * without wildcard DNS) or in the host name ({@code bucket.s3...}, AWS's default).
 */
public record S3Location(URI endpoint, String region, String bucket, boolean pathStyle) {
    public S3Location {
        requireNonNull(endpoint, "endpoint");
        requireNonNull(region, "region");
        requireNonNull(bucket, "bucket");
        String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || endpoint.getHost() == null
                || endpoint.getRawPath() != null && !endpoint.getRawPath().isEmpty() && !endpoint.getRawPath().equals("/")) {
            throw new IllegalArgumentException("S3 endpoint must be http(s)://host[:port]: " + endpoint);
        }
        // DNS-compatible bucket names: what virtual-hosted style needs, and all new AWS buckets have.
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new IllegalArgumentException("invalid S3 bucket name: " + bucket);
        }
    }

    boolean tls() {
        return endpoint.getScheme().equalsIgnoreCase("https");
    }

    int port() {
        return endpoint.getPort() > 0 ? endpoint.getPort() : tls() ? 443 : 80;
    }

    /** The host to connect to and to sign: the bucket is part of it unless path style. */
    String host() {
        return pathStyle ? endpoint.getHost() : bucket + "." + endpoint.getHost();
    }

    /** The Host header: with the port unless it is the scheme's default. */
    String hostHeader() {
        return endpoint.getPort() > 0 ? host() + ":" + endpoint.getPort() : host();
    }

    /** The request path of a key (already safe, see {@link S3Keys}); "" is the bucket itself. */
    String path(String key) {
        if (key.isEmpty()) {
            return pathStyle ? "/" + bucket : "/";
        }
        return pathStyle ? "/" + bucket + "/" + key : "/" + key;
    }
}
