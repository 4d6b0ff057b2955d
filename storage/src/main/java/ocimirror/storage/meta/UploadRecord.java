package ocimirror.storage.meta;

import ocimirror.storage.oci.RepoName;

/** An open upload session (the bytes live in the ingest area under {@code id}). */
public record UploadRecord(String id, RepoName repo, long startedAt) {
}
