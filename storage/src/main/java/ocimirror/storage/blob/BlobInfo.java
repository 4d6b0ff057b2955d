package ocimirror.storage.blob;

import java.nio.file.Path;
import ocimirror.storage.oci.Digest;

/** A committed, verified blob: its digest, its size, and the file that holds its bytes. */
public record BlobInfo(Digest digest, long size, Path path) {
}
