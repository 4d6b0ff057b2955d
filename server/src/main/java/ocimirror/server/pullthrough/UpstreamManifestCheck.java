package ocimirror.server.pullthrough;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import ocimirror.storage.oci.MediaTypes;

/**
 * Whether what an upstream answered to a manifest request is a manifest at all: a captive
 * portal's sign-in page or a proxy's error page comes back as a {@code 200} too, and believed,
 * it would be served and cached as the tag. Pure; call it off the event loop (it parses the body).
 *
 * <p>Accepted: a JSON object of a known manifest or index media type (OCI image manifest and
 * index, Docker schema 2 manifest and manifest list, Docker schema 1 signed or not, the OCI
 * artifact manifest), with the fields its spec requires to tell it from other JSON. The media type
 * is the {@code Content-Type}'s; a body's {@code mediaType} must not contradict it. A
 * {@code Content-Type} that says nothing (none, {@code application/json}, {@code text/plain}:
 * some registries label every manifest so) leaves it to the body's {@code mediaType}, else to the
 * body's shape. Otherwise lenient, as {@link ManifestFacts} is: descriptors are not checked
 * (unlike a push, an upstream's manifest is not the mirror's to judge beyond "is it one").
 */
public final class UpstreamManifestCheck {
    static final String OCI_ARTIFACT = "application/vnd.oci.artifact.manifest.v1+json";
    static final String DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
    static final String DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    private static final Set<String> IMAGE_MANIFESTS = Set.of(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);
    private static final Set<String> SCHEMA1 = Set.of(DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED);
    /** Types whose specs require the body's {@code mediaType} (the OCI ones and schema 1 do not). */
    private static final Set<String> MEDIA_TYPE_REQUIRED = Set.of(MediaTypes.DOCKER_MANIFEST,
            MediaTypes.DOCKER_MANIFEST_LIST, OCI_ARTIFACT);

    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    /** A manifest that passed: its parsed body and its media type. */
    record Manifest(JsonNode root, String mediaType) {
    }

    /** Not a manifest; the message completes "the upstream answered the manifest request with …". */
    static final class NotAManifest extends Exception {
        NotAManifest(String what) {
            super(what, null, false, false);
        }
    }

    private UpstreamManifestCheck() {
    }

    /**
     * @param contentType the upstream's {@code Content-Type}, or null
     * @throws NotAManifest saying briefly what came instead, e.g. "text/html, not a manifest"
     */
    static Manifest check(byte[] body, String contentType) throws NotAManifest {
        String header = informative(contentType);
        if (header != null && !known(header)) {
            throw new NotAManifest(header + ", not a manifest");
        }
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new NotAManifest(header != null ? "a body labelled " + header + " that is not JSON"
                    : "a body that is not JSON");
        }
        if (root == null || root.isMissingNode()) {
            throw new NotAManifest("an empty body");
        }
        if (!root.isObject()) {
            throw new NotAManifest("a JSON " + root.getNodeType().name().toLowerCase(Locale.ROOT)
                    + ", not a manifest object");
        }
        String declared = null;
        JsonNode mt = root.get("mediaType");
        if (mt != null && !mt.isNull()) {
            if (!mt.isTextual() || mt.asText().isEmpty()) {
                throw new NotAManifest("JSON whose mediaType is not a media type");
            }
            declared = informative(mt.asText());
        }
        if (header != null && declared != null && !header.equals(declared)) {
            throw new NotAManifest("a manifest whose mediaType " + declared + " contradicts its Content-Type " + header);
        }
        String type = header != null ? header : declared != null ? declared : byShape(root);
        if (type == null) {
            throw new NotAManifest("JSON that is not a manifest (no media type, and not shaped like one)");
        }
        if (!known(type)) {
            throw new NotAManifest("JSON with mediaType " + type + ", not a manifest");
        }
        if (declared == null && MEDIA_TYPE_REQUIRED.contains(type)) {
            throw new NotAManifest("a " + type + " without the mediaType field it requires");
        }
        shape(root, type);
        return new Manifest(root, type);
    }

    /**
     * Whether a manifest answer with this {@code Content-Type} may be a manifest (for a HEAD, which
     * has no body to check): a manifest type, or one that says nothing.
     */
    public static boolean mayBeManifest(String contentType) {
        String t = informative(contentType);
        return t == null || known(t);
    }

    private static boolean known(String type) {
        return MediaTypes.MANIFESTS.contains(type) || SCHEMA1.contains(type) || OCI_ARTIFACT.equals(type);
    }

    /** The fields each spec requires that set a manifest apart from any JSON object. */
    private static void shape(JsonNode root, String type) throws NotAManifest {
        if (OCI_ARTIFACT.equals(type)) {
            return; // mediaType (checked) and artifactType; blobs optional: nothing more to tell it by
        }
        int version = SCHEMA1.contains(type) ? 1 : 2;
        JsonNode v = root.get("schemaVersion");
        if (v == null || !v.isInt() || v.asInt() != version) {
            throw new NotAManifest("a " + type + " without schemaVersion " + version);
        }
        if (SCHEMA1.contains(type)) {
            require(root, "fsLayers", JsonNode::isArray, "an fsLayers array", type);
        } else if (MediaTypes.INDEXES.contains(type)) {
            require(root, "manifests", JsonNode::isArray, "a manifests array", type);
        } else {
            require(root, "config", JsonNode::isObject, "a config object", type);
            require(root, "layers", JsonNode::isArray, "a layers array", type);
        }
    }

    private static void require(JsonNode root, String field, Predicate<JsonNode> kind, String what,
                                String type) throws NotAManifest {
        JsonNode f = root.get(field);
        if (f == null || !kind.test(f)) {
            throw new NotAManifest("a " + type + " without " + what);
        }
    }

    /** A body without a media type: an index has manifests, an image manifest a config, schema 1 says so. */
    private static String byShape(JsonNode root) {
        JsonNode v = root.get("schemaVersion");
        if (v == null || !v.isInt()) {
            return null;
        }
        if (v.asInt() == 1) {
            return root.has("signatures") ? DOCKER_SCHEMA1_SIGNED : DOCKER_SCHEMA1;
        }
        if (v.asInt() != 2) {
            return null;
        }
        return root.has("manifests") ? MediaTypes.OCI_INDEX : root.has("config") ? MediaTypes.OCI_MANIFEST : null;
    }

    /** The bare media type, or null when it says nothing about the body (none, plain JSON or text). */
    static String informative(String contentType) {
        if (contentType == null) {
            return null;
        }
        String t = AcceptedTypes.bare(contentType);
        return t.isEmpty() || t.equals("application/json") || t.equals("text/plain") ? null : t;
    }
}
