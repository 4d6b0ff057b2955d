package ocimirror.storage.meta;

import ocimirror.storage.oci.Digest;

/** Bookkeeping for a committed blob: size, media type if known, creation and last access (epoch millis). */
public record BlobRecord(Digest digest, long size, String mediaType, long createdAt, long lastAccess) {
}
