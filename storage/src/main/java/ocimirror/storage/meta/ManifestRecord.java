package ocimirror.storage.meta;

import java.util.Map;
import ocimirror.storage.oci.Digest;

/**
 * A manifest stored in a repository: its descriptor as a referrers response lists it.
 * The bytes themselves are a blob under {@code digest}.
 *
 * @param subject      the {@code subject} digest, or null
 * @param artifactType the manifest's {@code artifactType} (or its config media type), or null
 * @param annotations  the manifest's annotations, never null
 */
public record ManifestRecord(Digest digest, String mediaType, long size, Digest subject, String artifactType,
                             Map<String, String> annotations) {
    public ManifestRecord {
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }
}
