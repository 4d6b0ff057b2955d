package ocimirror.server.registry;

import java.io.IOException;
import java.util.Optional;
import ocimirror.storage.blob.BlobContent;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;

/** A stored manifest's bytes, for the hosted registry and the pull-through alike. */
public final class ManifestBytes {
    private ManifestBytes() {
    }

    /**
     * The bytes of manifest {@code digest}; with {@code shared} storage (a metadata store whose
     * reads may block, so the caller is on a storage thread) also those another replica stored,
     * copied from the shared blobs: never fetched again from an upstream.
     *
     * @throws ocimirror.storage.oci.OciException UNAVAILABLE when the shared store fails
     */
    public static Optional<BlobContent> read(BlobStore blobs, boolean shared, Digest digest) {
        if (!shared) {
            return blobs.content(digest);
        }
        try {
            return blobs.fetchContent(digest);
        } catch (IOException e) {
            throw OciError.UNAVAILABLE.exception("the shared blob store failed reading " + digest + ": "
                    + e.getMessage());
        }
    }
}
