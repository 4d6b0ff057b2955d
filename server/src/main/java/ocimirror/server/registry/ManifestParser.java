package ocimirror.server.registry;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;

/**
 * Checks a pushed manifest's JSON and extracts what the registry must verify and record. Image
 * manifests and indexes (OCI and Docker schema 2) are checked in full; any other JSON media type
 * is accepted as an opaque artifact (a JSON object, nothing referenced is verified). The bytes
 * are never rewritten: what is stored is exactly what was pushed.
 */
final class ManifestParser {
    private final JsonMapper mapper = JsonMapper.builder()
            // Two values for one key would let two readers see two different manifests.
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /**
     * What a manifest says about itself.
     *
     * @param mediaType    the effective media type (Content-Type, else the body's mediaType)
     * @param blobs        config and layer digests that must be linked in the repository
     * @param manifests    manifest digests (of an index) that must exist in the repository
     * @param subject      the subject's digest, or null
     * @param artifactType artifactType, else an image manifest's config media type, else null
     */
    record Parsed(String mediaType, List<Digest> blobs, List<Digest> manifests, Digest subject,
                  String artifactType, Map<String, String> annotations) {
    }

    /** @param contentType the request's Content-Type, or null */
    Parsed parse(byte[] body, String contentType) {
        JsonNode root;
        try {
            root = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw invalid("not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw invalid("unreadable: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw invalid("a manifest must be a JSON object");
        }
        String declared = null;
        JsonNode mt = root.get("mediaType");
        if (mt != null) {
            if (!mt.isTextual() || mt.asText().isEmpty()) {
                throw invalid("mediaType must be a non-empty string");
            }
            declared = mt.asText();
        }
        String header = normalise(contentType);
        // A Content-Type of plain JSON (or none) says nothing: the body's mediaType decides.
        if (header == null || header.equals("application/json")) {
            header = null;
        }
        if (header != null && declared != null && !header.equals(declared)) {
            throw invalid("mediaType " + declared + " does not match Content-Type " + header);
        }
        String mediaType = header != null ? header : declared;
        if (mediaType == null) {
            throw invalid("no Content-Type and no mediaType in the manifest");
        }
        if (!MediaTypes.MANIFESTS.contains(mediaType) && !mediaType.endsWith("+json")) {
            throw invalid("unsupported manifest media type " + mediaType);
        }

        List<Digest> blobs = new ArrayList<>();
        List<Digest> manifests = new ArrayList<>();
        String artifactType = text(root, "artifactType");
        if (MediaTypes.MANIFESTS.contains(mediaType)) {
            JsonNode schema = root.get("schemaVersion");
            if (schema == null || !schema.isInt() || schema.asInt() != 2) {
                throw invalid("schemaVersion must be 2");
            }
        }
        if (MediaTypes.INDEXES.contains(mediaType)) {
            for (JsonNode d : array(root, "manifests", true)) {
                manifests.add(descriptor(d, "manifests[]"));
            }
        } else if (MediaTypes.MANIFESTS.contains(mediaType)) {
            JsonNode config = root.get("config");
            if (config == null) {
                throw invalid("config is required");
            }
            blobs.add(descriptor(config, "config"));
            if (artifactType == null) {
                artifactType = text(config, "mediaType");
            }
            for (JsonNode d : array(root, "layers", false)) {
                Digest digest = descriptor(d, "layers[]");
                // Foreign (non-distributable) layers live elsewhere: distribution skips them too.
                if (!d.has("urls") || d.get("urls").isEmpty()) {
                    blobs.add(digest);
                }
            }
        }
        Digest subject = null;
        JsonNode s = root.get("subject");
        if (s != null && !s.isNull()) {
            subject = descriptor(s, "subject");
        }
        return new Parsed(mediaType, blobs, manifests, subject, artifactType, annotations(root));
    }

    private static Digest descriptor(JsonNode d, String where) {
        if (!d.isObject()) {
            throw invalid(where + " must be a descriptor object");
        }
        JsonNode digest = d.get("digest");
        JsonNode size = d.get("size");
        JsonNode mediaType = d.get("mediaType");
        if (digest == null || !digest.isTextual()) {
            throw invalid(where + ".digest is required");
        }
        if (size == null || !size.isIntegralNumber() || size.asLong() < 0) {
            throw invalid(where + ".size must be a non-negative integer");
        }
        if (mediaType == null || !mediaType.isTextual()) {
            throw invalid(where + ".mediaType is required");
        }
        try {
            return Digest.parse(digest.asText());
        } catch (OciException e) {
            throw invalid(where + ".digest: " + e.detail());
        }
    }

    private static Iterable<JsonNode> array(JsonNode root, String field, boolean required) {
        JsonNode a = root.get(field);
        if (a == null || a.isNull()) {
            if (required) {
                throw invalid(field + " is required");
            }
            return List.of();
        }
        if (!a.isArray()) {
            throw invalid(field + " must be an array");
        }
        return a;
    }

    private static Map<String, String> annotations(JsonNode root) {
        JsonNode a = root.get("annotations");
        if (a == null || a.isNull()) {
            return Map.of();
        }
        if (!a.isObject()) {
            throw invalid("annotations must be an object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        var fields = a.fields();
        while (fields.hasNext()) {
            var e = fields.next();
            if (!e.getValue().isTextual()) {
                throw invalid("annotation " + e.getKey() + " must be a string");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v != null && v.isTextual() && !v.asText().isEmpty() ? v.asText() : null;
    }

    /** {@code Application/Foo+JSON; charset=utf-8} -> {@code application/foo+json}; blank -> null. */
    static String normalise(String contentType) {
        if (contentType == null) {
            return null;
        }
        int semi = contentType.indexOf(';');
        String t = (semi >= 0 ? contentType.substring(0, semi) : contentType).trim().toLowerCase(Locale.ROOT);
        return t.isEmpty() ? null : t;
    }

    private static OciException invalid(String detail) {
        return OciError.MANIFEST_INVALID.exception(detail);
    }
}
