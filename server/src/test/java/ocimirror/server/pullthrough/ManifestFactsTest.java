package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import ocimirror.server.image.Platform;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import org.junit.jupiter.api.Test;

class ManifestFactsTest {
    private static final String A = "sha256:" + "a".repeat(64);
    private static final String B = "sha256:" + "b".repeat(64);
    private static final String C = "sha256:" + "c".repeat(64);

    private static byte[] json(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void anImageManifestListsItsConfigThenLayersAndKeepsItsDescriptorFields() {
        ManifestFacts f = ManifestFacts.of(json("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\","
                + "\"config\":{\"mediaType\":\"application/vnd.example+json\",\"digest\":\"" + A + "\",\"size\":1},"
                + "\"layers\":[{\"digest\":\"" + B + "\"},{\"digest\":\"" + C + "\"}],"
                + "\"subject\":{\"digest\":\"" + C + "\"},\"annotations\":{\"k\":\"v\",\"n\":1}}"),
                MediaTypes.OCI_MANIFEST + "; charset=utf-8");
        assertEquals(MediaTypes.OCI_MANIFEST, f.mediaType());
        assertFalse(f.index());
        assertEquals(List.of(Digest.parse(A), Digest.parse(B), Digest.parse(C)), f.blobs());
        assertEquals(Digest.parse(C), f.subject());
        assertEquals("application/vnd.example+json", f.artifactType());
        assertEquals(Map.of("k", "v"), f.annotations());
    }

    @Test
    void anIndexHasNoBlobsToPrefetchAndIsRecognisedWithoutAContentType() {
        ManifestFacts f = ManifestFacts.of(json("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" + A + "\"}]}"),
                "application/json");
        assertEquals(MediaTypes.OCI_INDEX, f.mediaType());
        assertTrue(f.index());
        assertTrue(f.blobs().isEmpty());
        assertEquals(List.of(new ManifestFacts.Child(Digest.parse(A), null)), f.children());
    }

    @Test
    void anIndexListsItsEntriesWithTheirPlatformsForPlatformPrefetch() {
        ManifestFacts f = ManifestFacts.of(json("{\"schemaVersion\":2,\"manifests\":["
                + "{\"digest\":\"" + A + "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                + "{\"digest\":\"md5:nope\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                + "{\"digest\":\"" + B + "\",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}"),
                MediaTypes.OCI_INDEX);
        assertEquals(List.of(new ManifestFacts.Child(Digest.parse(A), Platform.parse("linux/arm64/v8")),
                new ManifestFacts.Child(Digest.parse(B), Platform.parse("unknown/unknown"))), f.children());
        assertTrue(Platform.parse("linux/arm64").matches(f.children().get(0).platform()));
    }

    @Test
    void whatCannotBeReadIsStoredAsItCameWithNothingToPrefetch() {
        String schema1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";
        ManifestFacts f = ManifestFacts.of(json("{\"schemaVersion\":1,\"fsLayers\":[{\"blobSum\":\"" + A + "\"}]"),
                schema1);
        assertEquals(schema1, f.mediaType());
        assertTrue(f.blobs().isEmpty());
        assertNull(f.subject());
        ManifestFacts bad = ManifestFacts.of(json("{\"layers\":[{\"digest\":\"md5:nope\"}]}"), null);
        assertEquals(MediaTypes.OCI_MANIFEST, bad.mediaType());
        assertTrue(bad.blobs().isEmpty());
    }
}
