package ocimirror.storage.meta;

import ocimirror.storage.oci.Digest;

/**
 * What a tag points at. {@code fetchedAt}/{@code checkedAt} (epoch millis) matter for cached
 * upstream tags; for pushed tags both are the push time.
 */
public record TagRecord(Digest digest, String mediaType, long size, long fetchedAt, long checkedAt) {
}
