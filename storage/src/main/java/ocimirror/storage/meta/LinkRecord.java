package ocimirror.storage.meta;

import ocimirror.storage.oci.Digest;

/** A repository's link to a blob and when it was made (epoch millis; 0 if unknown: made before links had times). */
public record LinkRecord(Digest digest, long linkedAt) {
}
