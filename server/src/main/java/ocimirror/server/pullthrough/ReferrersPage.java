package ocimirror.server.pullthrough;

/**
 * The referrers of a manifest of a proxied repository: an OCI image index.
 *
 * @param index    the index's bytes
 * @param filtered whether the {@code artifactType} filter was applied (the {@code OCI-Filters-Applied} header)
 */
public record ReferrersPage(byte[] index, boolean filtered) {
}
