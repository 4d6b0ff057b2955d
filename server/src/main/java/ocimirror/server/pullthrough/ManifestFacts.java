package ocimirror.server.pullthrough;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ocimirror.server.image.Platform;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciException;

/**
 * What the mirror records about a manifest an upstream sent: its media type, the blobs an image
 * manifest references (for prefetch), and the descriptor fields a referrers listing shows.
 *
 * <p>Lenient on purpose: unlike a push, an upstream's manifest is not the mirror's to refuse
 * once {@link UpstreamManifestCheck} found it is a manifest at all. Whatever cannot be read
 * (an old schema 1 manifest, an artifact's unusual descriptors) simply yields no blobs and no
 * subject; the bytes are stored and served as they came.
 *
 * @param mediaType    the upstream's {@code Content-Type}, else the body's {@code mediaType}, else
 *                     a guess from the shape (an index has {@code manifests})
 * @param index        whether it is an image index or manifest list
 * @param blobs        config and layer digests of an image manifest, in order; empty otherwise
 * @param children     an index's entries with their platforms (for prefetch); empty otherwise
 */
record ManifestFacts(String mediaType, boolean index, List<Digest> blobs, Digest subject, String artifactType,
                     Map<String, String> annotations, List<Child> children) {

    /** An index entry: a manifest's digest and its platform (null when the entry names none). */
    record Child(Digest digest, Platform platform) {
    }

    private static final JsonMapper JSON = new JsonMapper();

    static ManifestFacts of(byte[] body, String contentType) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            root = null;
        }
        if (root == null || !root.isObject()) {
            root = JSON.createObjectNode();
        }
        return of(root, mediaType(contentType, root));
    }

    /** From a body parsed already, whose media type is known ({@link UpstreamManifestCheck} decided both). */
    static ManifestFacts of(JsonNode root, String mediaType) {
        boolean index = MediaTypes.INDEXES.contains(mediaType);
        List<Digest> blobs = new ArrayList<>();
        List<Child> children = new ArrayList<>();
        if (index) {
            JsonNode manifests = root.get("manifests");
            if (manifests != null && manifests.isArray()) {
                for (JsonNode m : manifests) {
                    List<Digest> d = new ArrayList<>(1);
                    addDigest(d, m);
                    if (!d.isEmpty()) {
                        children.add(new Child(d.get(0), Platform.of(m.get("platform"))));
                    }
                }
            }
        } else {
            addDigest(blobs, root.get("config"));
            JsonNode layers = root.get("layers");
            if (layers != null && layers.isArray()) {
                layers.forEach(l -> addDigest(blobs, l));
            }
        }
        List<Digest> subject = new ArrayList<>(1);
        addDigest(subject, root.get("subject"));
        String artifactType = text(root.get("artifactType"));
        JsonNode config = root.get("config");
        if (artifactType == null && config != null && !index) {
            artifactType = text(config.get("mediaType"));
        }
        Map<String, String> annotations = new LinkedHashMap<>();
        JsonNode a = root.get("annotations");
        if (a != null && a.isObject()) {
            for (Map.Entry<String, JsonNode> e : a.properties()) {
                if (e.getValue().isTextual()) {
                    annotations.put(e.getKey(), e.getValue().asText());
                }
            }
        }
        return new ManifestFacts(mediaType, index, List.copyOf(blobs), subject.isEmpty() ? null : subject.get(0),
                artifactType, annotations, List.copyOf(children));
    }

    private static String mediaType(String contentType, JsonNode root) {
        String header = contentType == null ? null : AcceptedTypes.bare(contentType);
        // Some registries label every manifest plain JSON: then the body says what it is.
        if (header != null && !header.isEmpty() && !header.equals("application/json") && !header.equals("text/plain")) {
            return header;
        }
        String declared = text(root.get("mediaType"));
        if (declared != null) {
            return declared;
        }
        return root.has("manifests") ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
    }

    private static void addDigest(List<Digest> out, JsonNode descriptor) {
        String d = descriptor == null ? null : text(descriptor.get("digest"));
        if (d != null) {
            try {
                out.add(Digest.parse(d));
            } catch (OciException ignored) {
                // not a digest this mirror can fetch: nothing to prefetch
            }
        }
    }

    private static String text(JsonNode n) {
        return n != null && n.isTextual() && !n.asText().isEmpty() ? n.asText() : null;
    }
}
