package ocimirror.server.pullthrough;

import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.GrowingBlob;

/** Where the bytes of a requested blob come from. */
public sealed interface BlobSource {

    /** A committed, verified blob: serve the file as it is. */
    record Stored(BlobInfo blob) implements BlobSource {
    }

    /**
     * A download in progress whose length is known: stream from its growing file, holding back
     * the last byte until it commits, and cut the connection if it fails.
     */
    record Downloading(BlobFetch fetch) implements BlobSource {
    }

    /**
     * A blob another replica stored in the shared store, being copied into this replica's tier:
     * streamed from the growing copy exactly as a download is, never fetched from the upstream.
     */
    record Copying(GrowingBlob copy) implements BlobSource {
    }
}
