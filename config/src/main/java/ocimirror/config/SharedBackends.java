package ocimirror.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where several replicas keep what they share: the blobs in S3-compatible object storage and the
 * metadata in PostgreSQL, each replica keeping a bounded local disk tier of the blobs under its
 * data directory. Absent from a configuration ({@code MirrorConfig.shared()} null), a replica is
 * a single node on its own files and RocksDB, exactly as before. Both halves or neither: blobs
 * shared with metadata kept per replica (or the reverse) would show each replica a different
 * registry.
 *
 * @param s3           the bucket the blobs live in
 * @param postgres     the database the metadata lives in
 * @param tierMaxBytes the local disk tier's bound in bytes; the tier is evicted freely, the
 *                     bucket holds every blob
 */
public record SharedBackends(S3 s3, Postgres postgres, long tierMaxBytes) {

    /** The default local tier bound: enough for the hot layers of a large fleet. */
    public static final long DEFAULT_TIER_MAX_BYTES = 50L << 30;

    public SharedBackends {
        Objects.requireNonNull(s3, "s3");
        Objects.requireNonNull(postgres, "postgres");
        if (tierMaxBytes <= 0) {
            throw new IllegalArgumentException("storage.tierMaxSize: must be positive, got " + tierMaxBytes);
        }
    }

    /**
     * An S3-compatible bucket. Credentials are not configured here: they come from the usual AWS
     * sources (the environment, the shared credentials file), so no secret sits in this file.
     *
     * @param endpoint  {@code https://s3.eu-west-1.amazonaws.com}, {@code http://minio:9000}: scheme,
     *                  host and port only
     * @param region    the region requests are signed for ({@code us-east-1} when absent)
     * @param bucket    a DNS-compatible bucket name
     * @param prefix    prepended to every key ({@code ""}, or segments each ending in {@code /})
     * @param pathStyle the bucket in the path ({@code /bucket/key}: MinIO, Ceph RGW, s3proxy) rather
     *                  than in the host name (AWS's default)
     */
    public record S3(URI endpoint, String region, String bucket, String prefix, boolean pathStyle) {
        public static final String DEFAULT_REGION = "us-east-1";
        private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
        private static final Pattern REGION = Pattern.compile("[a-z0-9-]{1,64}");
        // Key characters S3 treats plainly, in segments each closed by '/'.
        private static final Pattern PREFIX = Pattern.compile("(?:[A-Za-z0-9._-]+/)*");

        public S3 {
            Objects.requireNonNull(endpoint, "storage.s3.endpoint");
            String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase(Locale.ROOT);
            String path = endpoint.getRawPath();
            if (!scheme.equals("http") && !scheme.equals("https") || endpoint.getHost() == null
                    || path != null && !path.isEmpty() && !path.equals("/") || endpoint.getRawQuery() != null
                    || endpoint.getRawUserInfo() != null) {
                throw new IllegalArgumentException("storage.s3.endpoint: must be http(s)://host[:port], got '"
                        + endpoint + "'");
            }
            region = region == null ? DEFAULT_REGION : region;
            if (!REGION.matcher(region).matches()) {
                throw new IllegalArgumentException("storage.s3.region: '" + region + "' is not a region name");
            }
            if (bucket == null || !BUCKET.matcher(bucket).matches() || bucket.contains("..")) {
                throw new IllegalArgumentException("storage.s3.bucket: " + (bucket == null ? "missing"
                        : "'" + bucket + "' is not a DNS-compatible bucket name (3 to 63 lower-case letters,"
                        + " digits, '.' and '-')"));
            }
            prefix = prefix == null ? "" : prefix;
            if (!PREFIX.matcher(prefix).matches() || prefix.contains("/../") || prefix.startsWith("../")
                    || prefix.contains("/./") || prefix.startsWith("./")) {
                throw new IllegalArgumentException("storage.s3.prefix: '" + prefix + "' must be path segments of"
                        + " letters, digits, '.', '_' and '-', each ending in '/' (ocimirror/, team/cache/)");
            }
        }
    }

    /**
     * A PostgreSQL database.
     *
     * @param url            {@code jdbc:postgresql://host:port/database}, optionally with driver
     *                       parameters ({@code ?sslmode=verify-full}); never a password
     * @param user           the role to log in as
     * @param passwordFile   a file holding only the role's password (a mounted secret)
     * @param maxConnections the replica's connection pool size, at least 2
     */
    public record Postgres(String url, String user, Path passwordFile, int maxConnections) {
        public static final int DEFAULT_MAX_CONNECTIONS = 10;

        public Postgres {
            if (url == null || !url.startsWith("jdbc:postgresql://")) {
                throw new IllegalArgumentException("metadata.postgres.url: " + (url == null ? "missing"
                        : "must start with jdbc:postgresql:// (got '" + redacted(url) + "')"));
            }
            if (url.toLowerCase(Locale.ROOT).contains("password=")) {
                throw new IllegalArgumentException("metadata.postgres.url: must not carry a password; name a"
                        + " passwordFile instead");
            }
            if (user == null || user.isBlank()) {
                throw new IllegalArgumentException("metadata.postgres.user: missing");
            }
            Objects.requireNonNull(passwordFile, "metadata.postgres.passwordFile");
            if (maxConnections < 2) {
                throw new IllegalArgumentException("metadata.postgres.maxConnections: must be at least 2, got "
                        + maxConnections);
            }
        }

        /** The URL without its parameters, for messages and {@code config check}. */
        public String redactedUrl() {
            return redacted(url);
        }

        private static String redacted(String url) {
            int q = url.indexOf('?');
            return q < 0 ? url : url.substring(0, q) + "?...";
        }
    }
}
