package ocimirror.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * Turns {@code storage.s3}, {@code storage.tierMaxSize} and {@code metadata.postgres} into
 * {@link SharedBackends}, every error naming the file and the field. Neither present: null, a
 * single node.
 *
 * <pre>
 * storage:
 *   s3:
 *     endpoint: https://s3.eu-west-1.amazonaws.com
 *     region: eu-west-1
 *     bucket: my-mirror
 *     prefix: ocimirror/          # optional
 *     pathStyle: false            # true for MinIO, Ceph RGW, s3proxy
 *   tierMaxSize: 50GiB            # each replica's local disk tier
 * metadata:
 *   postgres:
 *     url: jdbc:postgresql://db:5432/ocimirror
 *     user: ocimirror
 *     passwordFile: /run/secrets/pg-password
 *     maxConnections: 10
 * </pre>
 */
final class SharedReader {

    private final String source;
    private final UpstreamReader files;

    SharedReader(String source, UpstreamReader files) {
        this.source = source;
        this.files = files;
    }

    SharedBackends read(S3Section s3, Object tierMaxSize, MetadataSection metadata, boolean readSecrets)
            throws ConfigException {
        PostgresSection pg = metadata == null ? null : metadata.postgres();
        if (s3 == null && pg == null) {
            if (tierMaxSize != null) {
                throw error("storage.tierMaxSize", "only with storage.s3 (a single node's blobs are all local)");
            }
            return null;
        }
        if (s3 == null) {
            throw error("storage.s3", "missing: metadata.postgres is shared by several replicas, so the blobs must"
                    + " be too (or leave both out for a single node)");
        }
        if (pg == null) {
            throw error("metadata.postgres", "missing: storage.s3 is shared by several replicas, so the metadata"
                    + " must be too (or leave both out for a single node)");
        }
        long tier = SharedBackends.DEFAULT_TIER_MAX_BYTES;
        if (tierMaxSize != null) {
            try {
                tier = Sizes.parse(tierMaxSize);
            } catch (IllegalArgumentException e) {
                throw error("storage.tierMaxSize", e.getMessage());
            }
        }
        try {
            URI endpoint = null;
            if (s3.endpoint() != null) {
                try {
                    endpoint = new URI(s3.endpoint());
                } catch (URISyntaxException e) {
                    throw error("storage.s3.endpoint", "'" + s3.endpoint() + "' is not a URL");
                }
            } else {
                throw error("storage.s3.endpoint", "missing (https://s3.<region>.amazonaws.com for AWS)");
            }
            SharedBackends.S3 bucket = new SharedBackends.S3(endpoint, s3.region(), s3.bucket(), s3.prefix(),
                    s3.pathStyle() != null && s3.pathStyle());
            if (pg.passwordFile() == null) {
                throw error("metadata.postgres.passwordFile", "missing (a file holding only the password)");
            }
            Path password = files.file("metadata.postgres.passwordFile", pg.passwordFile(), readSecrets);
            SharedBackends.Postgres db = new SharedBackends.Postgres(pg.url(), pg.user(), password,
                    pg.maxConnections() == null ? SharedBackends.Postgres.DEFAULT_MAX_CONNECTIONS : pg.maxConnections());
            return new SharedBackends(bucket, db, tier);
        } catch (IllegalArgumentException e) {
            // The records word their messages with the field path already.
            throw new ConfigException(source + ": " + e.getMessage());
        }
    }

    private ConfigException error(String field, String message) {
        return new ConfigException(source + ": " + field + ": " + message);
    }

    record S3Section(String endpoint, String region, String bucket, String prefix, Boolean pathStyle) {
    }

    record MetadataSection(PostgresSection postgres) {
    }

    record PostgresSection(String url, String user, String passwordFile, Integer maxConnections) {
    }
}
