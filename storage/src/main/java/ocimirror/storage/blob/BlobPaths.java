package ocimirror.storage.blob;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import ocimirror.storage.oci.Digest;

/**
 * The on-disk layout of blob content under a data directory, computed here and nowhere else:
 *
 * <pre>
 * &lt;data&gt;/blobs/&lt;algo&gt;/&lt;first two hex&gt;/&lt;hex&gt;   committed, verified content (manifests too)
 * &lt;data&gt;/ingest/&lt;uuid&gt;                          in-flight uploads and downloads; wiped at start-up
 * </pre>
 *
 * <p>Nothing from a request becomes a path except through a {@link Digest} (whose record
 * constructor guarantees a known algorithm and lower-case hex of exact length) or a UUID in
 * canonical form, so no name built here can escape its directory. The two-hex fan-out keeps
 * directories at a few thousand entries even with millions of blobs.
 *
 * <p>Immutable and thread-safe.
 */
public final class BlobPaths {
    private final Path root;
    private final Path blobs;
    private final Path ingest;

    public BlobPaths(Path dataDir) {
        this.root = requireNonNull(dataDir, "dataDir").toAbsolutePath().normalize();
        this.blobs = root.resolve("blobs");
        this.ingest = root.resolve("ingest");
    }

    /** The data directory. */
    public Path root() {
        return root;
    }

    /** {@code <data>/blobs}. */
    public Path blobsDir() {
        return blobs;
    }

    /** {@code <data>/blobs/<algo>}. */
    public Path algorithmDir(Digest.Algorithm algorithm) {
        return blobs.resolve(algorithm.prefix());
    }

    /** {@code <data>/ingest}. */
    public Path ingestDir() {
        return ingest;
    }

    /** {@code <data>/blobs/<algo>/<first two hex>/<hex>}: where the committed blob lives. */
    public Path blob(Digest digest) {
        String hex = digest.hex();
        return algorithmDir(digest.algorithm()).resolve(hex.substring(0, 2)).resolve(hex);
    }

    /** {@code <data>/ingest/<uuid>}. */
    public Path ingest(UUID id) {
        return ingest.resolve(id.toString());
    }

    /**
     * The ingest path for an id taken from a request, if it is a UUID in canonical lower-case
     * form (what {@link #ingest(UUID)} produces); empty otherwise.
     */
    public Optional<Path> ingest(String id) {
        return parseId(id).map(this::ingest);
    }

    /** {@code id} as a UUID if it is in canonical lower-case form; {@link UUID#fromString} alone is too lenient. */
    public static Optional<UUID> parseId(String id) {
        if (id == null || id.length() != 36) {
            return Optional.empty();
        }
        try {
            UUID uuid = UUID.fromString(id);
            return id.equals(uuid.toString()) ? Optional.of(uuid) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return "BlobPaths[" + root + "]";
    }
}
