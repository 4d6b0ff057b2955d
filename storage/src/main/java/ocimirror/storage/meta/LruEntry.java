package ocimirror.storage.meta;

import ocimirror.storage.oci.Digest;

/** A blob in eviction order: its last access (epoch millis, recorded at most once a minute) and digest. */
public record LruEntry(long lastAccess, Digest digest) {
}
