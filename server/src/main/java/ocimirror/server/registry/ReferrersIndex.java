package ocimirror.server.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.Set;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.oci.MediaTypes;

/**
 * The answer of the referrers API: an OCI image index of descriptors, each one at most once
 * (by digest), optionally only those of one {@code artifactType}. Not thread-safe; built and
 * serialized by one caller.
 */
public final class ReferrersIndex {
    private static final JsonMapper JSON = new JsonMapper();

    private final String artifactType;
    private final ObjectNode root = JSON.createObjectNode();
    private final ArrayNode manifests;
    private final Set<String> digests = new HashSet<>();

    /** @param artifactType keep only descriptors of this artifact type; null keeps all */
    public ReferrersIndex(String artifactType) {
        this.artifactType = artifactType;
        root.put("schemaVersion", 2);
        root.put("mediaType", MediaTypes.OCI_INDEX);
        manifests = root.putArray("manifests");
    }

    /** Adds the descriptor of a stored manifest (whose subject is the one listed). */
    public ReferrersIndex add(ManifestRecord r) {
        if (!keeps(r.artifactType()) || !digests.add(r.digest().toString())) {
            return this;
        }
        ObjectNode d = manifests.addObject();
        d.put("mediaType", r.mediaType());
        d.put("digest", r.digest().toString());
        d.put("size", r.size());
        if (r.artifactType() != null) {
            d.put("artifactType", r.artifactType());
        }
        if (!r.annotations().isEmpty()) {
            ObjectNode a = d.putObject("annotations");
            r.annotations().forEach(a::put);
        }
        return this;
    }

    /** Adds a descriptor as another index lists it (an upstream's); one without a digest is skipped. */
    public ReferrersIndex add(JsonNode descriptor) {
        JsonNode digest = descriptor.get("digest");
        JsonNode type = descriptor.get("artifactType");
        if (!descriptor.isObject() || digest == null || !digest.isTextual()
                || !keeps(type != null && type.isTextual() ? type.asText() : null)
                || !digests.add(digest.asText())) {
            return this;
        }
        manifests.add(descriptor.deepCopy());
        return this;
    }

    /** Adds every descriptor of {@code index}'s {@code manifests} array. */
    public ReferrersIndex addAll(JsonNode index) {
        JsonNode list = index.get("manifests");
        if (list != null && list.isArray()) {
            list.forEach(this::add);
        }
        return this;
    }

    public boolean isEmpty() {
        return manifests.isEmpty();
    }

    public byte[] bytes() {
        try {
            return JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private boolean keeps(String type) {
        return artifactType == null || artifactType.equals(type);
    }
}
