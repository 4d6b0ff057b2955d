package ocimirror.storage.blob;

import static java.util.Objects.requireNonNull;

/**
 * A committed blob and, when it is small, its bytes (never modified: shared by every reader).
 *
 * @param bytes the whole content, or null for a blob larger than {@link BlobStore#SMALL_BLOB_BYTES}
 */
public record BlobContent(BlobInfo info, byte[] bytes) {
    public BlobContent {
        requireNonNull(info, "info");
        if (bytes != null && bytes.length != info.size()) {
            throw new IllegalArgumentException("bytes: " + bytes.length + ", size: " + info.size());
        }
    }
}
