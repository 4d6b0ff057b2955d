package ocimirror.server.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciException;

/**
 * What an image manifest or index references, for walking an image: import, export and
 * prefetch follow an index to its manifests and a manifest to its config and layers. Read
 * only; the bytes are never rewritten.
 *
 * @param mediaType the effective media type (see {@link #parse})
 * @param index     whether it is an image index or Docker manifest list
 * @param manifests an index's entries (empty for a manifest)
 * @param config    a manifest's config (null for an index)
 * @param layers    a manifest's layers, foreign ones included (empty for an index)
 */
public record ImageManifest(String mediaType, boolean index, List<Descriptor> manifests, Descriptor config,
                            List<Descriptor> layers) {
    private static final JsonMapper JSON = new JsonMapper();

    /**
     * A content descriptor.
     *
     * @param platform    an index entry's platform, else null
     * @param foreign     a layer with {@code urls}: non-distributable, fetched from elsewhere,
     *                    not kept by registries (nor by the mirror)
     * @param annotations its annotations, never null
     */
    public record Descriptor(String mediaType, Digest digest, long size, Platform platform, boolean foreign,
                             Map<String, String> annotations) {
        public Descriptor {
            annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
        }

        /** Whether it names a manifest or index (by media type). */
        public boolean isManifest() {
            return MediaTypes.MANIFESTS.contains(mediaType);
        }
    }

    public ImageManifest {
        manifests = List.copyOf(manifests);
        layers = List.copyOf(layers);
    }

    /**
     * Parses {@code body}. The media type is {@code declared} (a descriptor's or a
     * {@code Content-Type}) unless that is null or plain JSON; then the body's {@code mediaType};
     * then a guess from the shape (an index has {@code manifests}).
     *
     * @throws IllegalArgumentException if it is not such a JSON object or a descriptor is malformed
     */
    public static ImageManifest parse(byte[] body, String declared) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        if (root.path("schemaVersion").asInt() == 1) {
            throw new IllegalArgumentException("a Docker schema 1 manifest (unsupported; re-push the image with a current client)");
        }
        String mediaType = declared == null || declared.isEmpty() || declared.startsWith("application/json")
                ? null : declared;
        if (mediaType == null) {
            mediaType = text(root.get("mediaType"));
        }
        if (mediaType == null) {
            mediaType = root.has("manifests") ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
        }
        boolean index = MediaTypes.INDEXES.contains(mediaType) || (!root.has("config") && root.has("manifests"));
        List<Descriptor> manifests = new ArrayList<>();
        List<Descriptor> layers = new ArrayList<>();
        Descriptor config = null;
        if (index) {
            for (JsonNode d : array(root, "manifests")) {
                manifests.add(descriptor(d, "manifests[]"));
            }
        } else {
            JsonNode c = root.get("config");
            if (c == null) {
                throw new IllegalArgumentException("an image manifest without config");
            }
            config = descriptor(c, "config");
            for (JsonNode d : array(root, "layers")) {
                layers.add(descriptor(d, "layers[]"));
            }
        }
        return new ImageManifest(mediaType, index, manifests, config, layers);
    }

    /** A manifest's config and distributable layers, in order (empty for an index). */
    public List<Descriptor> blobs() {
        List<Descriptor> out = new ArrayList<>();
        if (config != null) {
            out.add(config);
        }
        layers.stream().filter(l -> !l.foreign()).forEach(out::add);
        return out;
    }

    /** An index's entries for {@code platform}, or all of them when it is null. */
    public List<Descriptor> manifests(Platform platform) {
        return platform == null ? manifests : manifests.stream().filter(d -> platform.matches(d.platform())).toList();
    }

    /** The platforms an index lists, for messages. */
    public List<String> platforms() {
        return manifests.stream().map(d -> d.platform() == null ? "(none)" : d.platform().toString()).toList();
    }

    private static Iterable<JsonNode> array(JsonNode root, String field) {
        JsonNode a = root.get(field);
        if (a == null || a.isNull()) {
            return List.of();
        }
        if (!a.isArray()) {
            throw new IllegalArgumentException(field + " is not an array");
        }
        return a;
    }

    private static Descriptor descriptor(JsonNode d, String where) {
        if (!d.isObject()) {
            throw new IllegalArgumentException(where + " is not a descriptor object");
        }
        String digest = text(d.get("digest"));
        JsonNode size = d.get("size");
        if (digest == null) {
            throw new IllegalArgumentException(where + " has no digest");
        }
        if (size == null || !size.isIntegralNumber() || size.asLong() < 0) {
            throw new IllegalArgumentException(where + " " + digest + " has no valid size");
        }
        Digest parsed;
        try {
            parsed = Digest.parse(digest);
        } catch (OciException e) {
            throw new IllegalArgumentException(where + ": " + e.detail());
        }
        JsonNode urls = d.get("urls");
        Map<String, String> annotations = new LinkedHashMap<>();
        JsonNode a = d.get("annotations");
        if (a != null && a.isObject()) {
            a.properties().forEach(e -> {
                if (e.getValue().isTextual()) {
                    annotations.put(e.getKey(), e.getValue().asText());
                }
            });
        }
        return new Descriptor(text(d.get("mediaType")), parsed, size.asLong(), Platform.of(d.get("platform")),
                urls != null && urls.isArray() && !urls.isEmpty(), annotations);
    }

    private static String text(JsonNode n) {
        return n != null && n.isTextual() && !n.asText().isEmpty() ? n.asText() : null;
    }
}
