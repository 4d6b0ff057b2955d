package ocimirror.storage.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Set;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciException;

/**
 * The digests a manifest keeps alive: an image manifest's {@code config} and {@code layers}
 * (OCI and Docker schema 2 alike), an index's {@code manifests} (and an artifact's
 * {@code blobs}). A {@code subject} is not among them: a referrer does not keep its subject.
 * Unknown or foreign descriptors (a digest of an unknown algorithm) are skipped.
 */
public final class ManifestRefs {
    private static final JsonMapper JSON = new JsonMapper();

    private ManifestRefs() {
    }

    /** The referenced digests, in document order; empty if the bytes are not a JSON manifest. */
    public static Set<Digest> of(byte[] manifest) {
        Set<Digest> result = new LinkedHashSet<>();
        JsonNode root;
        try {
            root = JSON.readTree(manifest);
        } catch (IOException e) {
            return result;
        }
        if (root == null || !root.isObject()) {
            return result;
        }
        add(result, root.get("config"));
        for (String list : new String[] {"layers", "manifests", "blobs"}) {
            JsonNode items = root.get(list);
            if (items != null && items.isArray()) {
                items.forEach(d -> add(result, d));
            }
        }
        return result;
    }

    /** The child manifests of an index (its {@code manifests} list); empty for an image manifest. */
    public static Set<Digest> children(byte[] manifest) {
        Set<Digest> result = new LinkedHashSet<>();
        try {
            JsonNode items = JSON.readTree(manifest).get("manifests");
            if (items != null && items.isArray()) {
                items.forEach(d -> add(result, d));
            }
        } catch (IOException | RuntimeException e) {
            // not a manifest: no children
        }
        return result;
    }

    private static void add(Set<Digest> into, JsonNode descriptor) {
        if (descriptor == null || !descriptor.isObject()) {
            return;
        }
        JsonNode d = descriptor.get("digest");
        if (d != null && d.isTextual()) {
            try {
                into.add(Digest.parse(d.asText()));
            } catch (OciException e) {
                // an unknown algorithm or a malformed digest: nothing this store could hold
            }
        }
    }
}
