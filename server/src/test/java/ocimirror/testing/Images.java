package ocimirror.testing;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;

/** Small manifests and blobs for tests, built as JSON text so the exact bytes are known. */
public final class Images {
    public static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
    public static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";

    private Images() {
    }

    public static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    public static String descriptor(String mediaType, byte[] content) {
        return descriptor(mediaType, Digest.sha256(content), content.length);
    }

    public static String descriptor(String mediaType, Digest digest, long size) {
        return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + digest + "\",\"size\":" + size + "}";
    }

    /** An OCI image manifest over {@code config} and {@code layers}. */
    public static byte[] manifest(byte[] config, byte[]... layers) {
        return manifest(null, null, Map.of(), config, layers);
    }

    /** An OCI image manifest with optional artifactType, subject and annotations. */
    public static byte[] manifest(String artifactType, String subjectDescriptor, Map<String, String> annotations,
                                  byte[] config, byte[]... layers) {
        StringBuilder sb = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\"");
        if (artifactType != null) {
            sb.append(",\"artifactType\":\"").append(artifactType).append('"');
        }
        sb.append(",\"config\":").append(descriptor(CONFIG_TYPE, config));
        sb.append(",\"layers\":[").append(List.of(layers).stream().map(l -> descriptor(LAYER_TYPE, l))
                .collect(Collectors.joining(","))).append(']');
        if (subjectDescriptor != null) {
            sb.append(",\"subject\":").append(subjectDescriptor);
        }
        if (!annotations.isEmpty()) {
            sb.append(",\"annotations\":{").append(annotations.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .map(e -> "\"" + e.getKey() + "\":\"" + e.getValue() + "\"").collect(Collectors.joining(","))).append('}');
        }
        return bytes(sb.append('}').toString());
    }

    /** An OCI index over {@code manifests}. */
    public static byte[] index(byte[]... manifests) {
        return bytes("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":["
                + List.of(manifests).stream().map(m -> descriptor(MediaTypes.OCI_MANIFEST, m))
                .collect(Collectors.joining(",")) + "]}");
    }
}
