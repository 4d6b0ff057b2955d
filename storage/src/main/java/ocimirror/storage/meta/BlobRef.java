package ocimirror.storage.meta;

import ocimirror.storage.oci.RepoName;

/**
 * A repository's hold on a blob: a link (a layer or config it may serve) or a manifest stored
 * under the blob's digest.
 */
public record BlobRef(RepoName repo, boolean manifest) {
}
