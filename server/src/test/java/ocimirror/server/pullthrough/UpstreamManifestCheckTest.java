package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import ocimirror.storage.oci.MediaTypes;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class UpstreamManifestCheckTest {
    private static final String D = "\"sha256:" + "a".repeat(64) + "\"";
    private static final String DESC = "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":" + D
            + ",\"size\":2}";
    private static final String HTML = "<!DOCTYPE html><html><head><title>Sign in</title></head>"
            + "<body><form action=\"/login\"></form></body></html>\n";
    private static final String OCI_MANIFEST_NO_TYPE = "{\"schemaVersion\":2,\"config\":" + DESC + ",\"layers\":[" + DESC
            + "]}";
    private static final String OCI_INDEX = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX
            + "\",\"manifests\":[" + DESC + "]}";
    private static final String DOCKER_LIST = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST_LIST
            + "\",\"manifests\":[" + DESC + "]}";
    private static final String DOCKER_MANIFEST = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST
            + "\",\"config\":" + DESC + ",\"layers\":[]}";
    private static final String ARTIFACT = "{\"mediaType\":\"" + UpstreamManifestCheck.OCI_ARTIFACT
            + "\",\"artifactType\":\"application/vnd.example.sbom\",\"blobs\":[" + DESC + "]}";
    private static final String ARTIFACT_TYPE_MANIFEST = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
            + "\",\"artifactType\":\"application/vnd.example.sig\",\"config\":{\"mediaType\":\"" + MediaTypes.OCI_EMPTY
            + "\",\"digest\":" + D + ",\"size\":2},\"layers\":[" + DESC + "],\"subject\":" + DESC + "}";
    private static final String SCHEMA1_SIGNED = "{\"schemaVersion\":1,\"name\":\"library/x\",\"tag\":\"1\","
            + "\"fsLayers\":[{\"blobSum\":" + D + "}],\"history\":[],\"signatures\":[{}]}";

    static Stream<Arguments> accepted() {
        return Stream.of(
                Arguments.of("OCI manifest without mediaType", OCI_MANIFEST_NO_TYPE, MediaTypes.OCI_MANIFEST,
                        MediaTypes.OCI_MANIFEST),
                Arguments.of("OCI manifest, Content-Type with parameters", OCI_MANIFEST_NO_TYPE,
                        "Application/VND.oci.image.manifest.v1+json; charset=utf-8", MediaTypes.OCI_MANIFEST),
                Arguments.of("OCI manifest labelled plain JSON: the shape decides", OCI_MANIFEST_NO_TYPE,
                        "application/json", MediaTypes.OCI_MANIFEST),
                Arguments.of("OCI manifest with artifactType and any config", ARTIFACT_TYPE_MANIFEST,
                        MediaTypes.OCI_MANIFEST, MediaTypes.OCI_MANIFEST),
                Arguments.of("OCI index", OCI_INDEX, MediaTypes.OCI_INDEX, MediaTypes.OCI_INDEX),
                Arguments.of("OCI index without Content-Type", OCI_INDEX, null, MediaTypes.OCI_INDEX),
                Arguments.of("OCI index without mediaType nor Content-Type",
                        "{\"schemaVersion\":2,\"manifests\":[]}", null, MediaTypes.OCI_INDEX),
                Arguments.of("Docker manifest list", DOCKER_LIST, MediaTypes.DOCKER_MANIFEST_LIST,
                        MediaTypes.DOCKER_MANIFEST_LIST),
                Arguments.of("Docker manifest labelled text/plain", DOCKER_MANIFEST, "text/plain",
                        MediaTypes.DOCKER_MANIFEST),
                Arguments.of("OCI artifact manifest", ARTIFACT, UpstreamManifestCheck.OCI_ARTIFACT,
                        UpstreamManifestCheck.OCI_ARTIFACT),
                Arguments.of("Docker schema 1, signed", SCHEMA1_SIGNED, UpstreamManifestCheck.DOCKER_SCHEMA1_SIGNED,
                        UpstreamManifestCheck.DOCKER_SCHEMA1_SIGNED),
                Arguments.of("Docker schema 1 labelled plain JSON", SCHEMA1_SIGNED, "application/json",
                        UpstreamManifestCheck.DOCKER_SCHEMA1_SIGNED));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("accepted")
    void aManifestPasses(String what, String body, String contentType, String mediaType) throws Exception {
        UpstreamManifestCheck.Manifest m = UpstreamManifestCheck.check(bytes(body), contentType);
        assertEquals(mediaType, m.mediaType());
        assertEquals(body.contains("\"manifests\""), m.root().has("manifests"));
    }

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of("HTML as text/html", HTML, "text/html; charset=utf-8", "text/html, not a manifest"),
                Arguments.of("HTML with a manifest media type", HTML, MediaTypes.OCI_MANIFEST,
                        "a body labelled " + MediaTypes.OCI_MANIFEST + " that is not JSON"),
                Arguments.of("HTML without a Content-Type", HTML, null, "a body that is not JSON"),
                Arguments.of("a valid manifest as text/html", OCI_MANIFEST_NO_TYPE, "text/html",
                        "text/html, not a manifest"),
                Arguments.of("an unknown type", OCI_MANIFEST_NO_TYPE, "application/octet-stream",
                        "application/octet-stream, not a manifest"),
                Arguments.of("empty", "", MediaTypes.OCI_MANIFEST, "an empty body"),
                Arguments.of("JSON array", "[" + OCI_MANIFEST_NO_TYPE + "]", MediaTypes.OCI_MANIFEST,
                        "a JSON array, not a manifest object"),
                Arguments.of("JSON string", "\"hello\"", null, "a JSON string, not a manifest object"),
                Arguments.of("trailing garbage", OCI_MANIFEST_NO_TYPE + "<html>", MediaTypes.OCI_MANIFEST,
                        "a body labelled " + MediaTypes.OCI_MANIFEST + " that is not JSON"),
                Arguments.of("object without schemaVersion or layers", "{\"hello\":\"world\"}",
                        MediaTypes.OCI_MANIFEST, "a " + MediaTypes.OCI_MANIFEST + " without schemaVersion 2"),
                Arguments.of("an error body as plain JSON", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
                        "application/json", "JSON that is not a manifest (no media type, and not shaped like one)"),
                Arguments.of("image manifest without layers", "{\"schemaVersion\":2,\"config\":" + DESC + "}",
                        MediaTypes.OCI_MANIFEST, "a " + MediaTypes.OCI_MANIFEST + " without a layers array"),
                Arguments.of("image manifest without config", "{\"schemaVersion\":2,\"layers\":[]}",
                        MediaTypes.OCI_MANIFEST, "a " + MediaTypes.OCI_MANIFEST + " without a config object"),
                Arguments.of("index without manifests", "{\"schemaVersion\":2}", MediaTypes.OCI_INDEX,
                        "a " + MediaTypes.OCI_INDEX + " without a manifests array"),
                Arguments.of("schemaVersion 1 labelled OCI", SCHEMA1_SIGNED, MediaTypes.OCI_MANIFEST,
                        "a " + MediaTypes.OCI_MANIFEST + " without schemaVersion 2"),
                Arguments.of("mediaType contradicting Content-Type", OCI_INDEX, MediaTypes.OCI_MANIFEST,
                        "a manifest whose mediaType " + MediaTypes.OCI_INDEX + " contradicts its Content-Type "
                                + MediaTypes.OCI_MANIFEST),
                Arguments.of("Docker list labelled Docker manifest", DOCKER_LIST, MediaTypes.DOCKER_MANIFEST,
                        "a manifest whose mediaType " + MediaTypes.DOCKER_MANIFEST_LIST + " contradicts its"
                                + " Content-Type " + MediaTypes.DOCKER_MANIFEST),
                Arguments.of("Docker manifest without the mediaType it requires",
                        DOCKER_MANIFEST.replace("\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST + "\",", ""),
                        MediaTypes.DOCKER_MANIFEST, "a " + MediaTypes.DOCKER_MANIFEST
                                + " without the mediaType field it requires"),
                Arguments.of("mediaType not a string", "{\"schemaVersion\":2,\"mediaType\":7}", null,
                        "JSON whose mediaType is not a media type"),
                Arguments.of("plain JSON declaring HTML", "{\"mediaType\":\"text/html\"}", "application/json",
                        "JSON with mediaType text/html, not a manifest"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void anythingElseIsRefusedSayingWhatCame(String what, String body, String contentType, String reason) {
        UpstreamManifestCheck.NotAManifest e = assertThrows(UpstreamManifestCheck.NotAManifest.class,
                () -> UpstreamManifestCheck.check(bytes(body), contentType));
        assertEquals(reason, e.getMessage());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
