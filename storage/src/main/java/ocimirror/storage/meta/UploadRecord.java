package ocimirror.storage.meta;

import static java.util.Objects.requireNonNull;

import ocimirror.storage.oci.RepoName;

/**
 * An open upload session (the bytes live in the ingest area under {@code id}).
 *
 * @param owner the replica whose ingest area holds the bytes: a replica's start-up forgets its own
 *              sessions only ({@link MetadataStore#clearUploads(String)}), not those of the others
 *              sharing the store. {@link #LOCAL} on a single node, and for sessions recorded before
 *              sessions had owners.
 */
public record UploadRecord(String id, RepoName repo, long startedAt, String owner) {
    /** The owner of a single node's sessions. */
    public static final String LOCAL = "local";

    public UploadRecord {
        requireNonNull(owner, "owner");
    }

    /** A session of the single node ({@link #LOCAL}). */
    public UploadRecord(String id, RepoName repo, long startedAt) {
        this(id, repo, startedAt, LOCAL);
    }
}
