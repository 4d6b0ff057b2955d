package ocimirror.storage.s3;

import java.util.regex.Pattern;
import ocimirror.storage.oci.Digest;

/**
 * The object-key layout in the bucket, computed here and nowhere else:
 *
 * <pre>
 * &lt;prefix&gt;blobs/&lt;algo&gt;/&lt;first two hex&gt;/&lt;hex&gt;   committed, verified content (manifests too)
 * </pre>
 *
 * <p>The same layout as {@code BlobPaths} on disk, under an optional prefix (several mirrors, or
 * other data, may share a bucket). There is no ingest area: an upload in flight is a multipart
 * upload on the blob's own key, invisible until it is completed, and S3 lists those separately
 * ({@link MultipartJanitor}). The two-hex fan-out matters less than on disk (S3 has no
 * directories), but keeps a listing by hand readable and spreads keys over S3's partitions.
 *
 * <p>Keys are made only of a validated {@link Digest} and a prefix checked here, so they need no
 * URL encoding. Immutable.
 */
public final class S3Keys {
    private static final Pattern PREFIX = Pattern.compile("([A-Za-z0-9._-]+/)*");

    private final String prefix;

    /** @param prefix empty, or segments of {@code [A-Za-z0-9._-]} each ending in {@code /} */
    public S3Keys(String prefix) {
        if (prefix == null || !PREFIX.matcher(prefix).matches() || prefix.contains("/../") || prefix.startsWith("../")) {
            throw new IllegalArgumentException("S3 key prefix must be empty or end in '/' and use [A-Za-z0-9._-/]: " + prefix);
        }
        this.prefix = prefix;
    }

    /** {@code <prefix>blobs/}: everything this store owns, for listings. */
    public String blobsPrefix() {
        return prefix + "blobs/";
    }

    /** {@code <prefix>blobs/<algo>/<first two hex>/<hex>}. */
    public String blob(Digest digest) {
        String hex = digest.hex();
        return blobsPrefix() + digest.algorithm().prefix() + "/" + hex.substring(0, 2) + "/" + hex;
    }

    @Override
    public String toString() {
        return "S3Keys[" + prefix + "]";
    }
}
