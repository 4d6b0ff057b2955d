package ocimirror.server.http;

import static ocimirror.testing.Images.bytes;
import static ocimirror.testing.Images.descriptor;
import static ocimirror.testing.Images.manifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class RegistryHandlerTest {
    static final byte[] CONFIG = bytes("{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    static final byte[] LAYER = bytes("0123456789abcdefghijklmnopqrstuvwxyz");

    @TempDir
    Path dir;
    Harness h;

    @BeforeEach
    void open() throws Exception {
        h = new Harness(dir);
    }

    @AfterEach
    void close() {
        h.close();
    }

    private void finish() {
        assertFalse(h.ch.finishAndReleaseAll());
    }

    private static void assertApiVersion(Harness.Response r) {
        assertEquals("registry/2.0", r.header("Docker-Distribution-API-Version"));
    }

    @Test
    void baseEndpointAnswersWithTheApiVersion() {
        Harness.Response r = h.send(HttpMethod.GET, "/v2/");
        assertEquals(200, r.status());
        assertApiVersion(r);
        assertEquals("{}", new String(r.body()));
        assertEquals("application/json", r.header(HttpHeaderNames.CONTENT_TYPE));
        finish();
    }

    @Test
    void manifestPushAndGetRoundTrip() {
        h.pushBlob("team/app", CONFIG);
        h.pushBlob("team/app", LAYER);
        byte[] m = manifest(CONFIG, LAYER);
        Digest d = Digest.sha256(m);
        HttpRequest put = Harness.request(HttpMethod.PUT, "/v2/team/app/manifests/v1");
        put.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        byte[] first = java.util.Arrays.copyOf(m, 10);
        byte[] rest = java.util.Arrays.copyOfRange(m, 10, m.length);
        Harness.Response created = h.send(put, first, rest);
        assertEquals(201, created.status(), new String(created.body()));
        assertApiVersion(created);
        assertEquals("/v2/team/app/manifests/" + d, created.header(HttpHeaderNames.LOCATION));
        assertEquals(d.toString(), created.header("Docker-Content-Digest"));
        assertNull(created.header("OCI-Subject"));

        for (String ref : new String[] {"v1", d.toString()}) {
            Harness.Response get = h.send(HttpMethod.GET, "/v2/team/app/manifests/" + ref);
            assertEquals(200, get.status());
            assertArrayEquals(m, get.body());
            assertEquals(MediaTypes.OCI_MANIFEST, get.header(HttpHeaderNames.CONTENT_TYPE));
            assertEquals(d.toString(), get.header("Docker-Content-Digest"));
            assertEquals(String.valueOf(m.length), get.header(HttpHeaderNames.CONTENT_LENGTH));
        }
        Harness.Response head = h.send(HttpMethod.HEAD, "/v2/team/app/manifests/v1");
        assertEquals(200, head.status());
        assertEquals(0, head.body().length);
        assertEquals(String.valueOf(m.length), head.header(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals(d.toString(), head.header("Docker-Content-Digest"));

        Harness.Response missing = h.send(HttpMethod.HEAD, "/v2/team/app/manifests/v2");
        assertEquals(404, missing.status());
        assertEquals(0, missing.body().length);
        finish();
    }

    @Test
    void manifestWithASubjectEchoesIt() {
        h.pushBlob("app", CONFIG);
        byte[] image = manifest(CONFIG);
        put("app", "v1", image);
        byte[] ref = manifest("application/vnd.example.sig", descriptor(MediaTypes.OCI_MANIFEST, image), Map.of(), CONFIG);
        Harness.Response r = put("app", Digest.sha256(ref).toString(), ref);
        assertEquals(201, r.status());
        assertEquals(Digest.sha256(image).toString(), r.header("OCI-Subject"));
        finish();
    }

    @Test
    void monolithicUploadThenBlobGetAndHead() {
        Digest d = h.pushBlob("app", LAYER);
        Harness.Response get = h.send(HttpMethod.GET, "/v2/app/blobs/" + d);
        assertEquals(200, get.status());
        assertArrayEquals(LAYER, get.body());
        assertTrue(get.parts().contains(DefaultFileRegion.class), "plaintext body goes out as a file region: " + get.parts());
        assertEquals("application/octet-stream", get.header(HttpHeaderNames.CONTENT_TYPE));
        assertEquals("bytes", get.header(HttpHeaderNames.ACCEPT_RANGES));
        assertEquals(d.toString(), get.header("Docker-Content-Digest"));
        assertEquals("\"" + d + "\"", get.header(HttpHeaderNames.ETAG));
        assertApiVersion(get);

        Harness.Response head = h.send(HttpMethod.HEAD, "/v2/app/blobs/" + d);
        assertEquals(200, head.status());
        assertEquals(String.valueOf(LAYER.length), head.header(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals(0, head.body().length);
        assertEquals(java.util.List.of(DefaultFullHttpResponse.class), head.parts());

        Harness.Response other = h.send(HttpMethod.GET, "/v2/other/blobs/" + d);
        assertEquals(404, other.status());
        assertEquals("BLOB_UNKNOWN", other.code());
        finish();
    }

    @Test
    void blobRanges() {
        Digest d = h.pushBlob("app", LAYER);
        int n = LAYER.length;
        Harness.Response part = get("/v2/app/blobs/" + d, "bytes=2-5");
        assertEquals(206, part.status());
        assertEquals("bytes 2-5/" + n, part.header(HttpHeaderNames.CONTENT_RANGE));
        assertArrayEquals(bytes("2345"), part.body());
        assertTrue(part.parts().contains(DefaultFileRegion.class));

        Harness.Response suffix = get("/v2/app/blobs/" + d, "bytes=-3");
        assertEquals(206, suffix.status());
        assertArrayEquals(bytes("xyz"), suffix.body());

        Harness.Response open = get("/v2/app/blobs/" + d, "bytes=30-");
        assertEquals(206, open.status());
        assertEquals("bytes 30-" + (n - 1) + "/" + n, open.header(HttpHeaderNames.CONTENT_RANGE));

        Harness.Response beyond = get("/v2/app/blobs/" + d, "bytes=" + n + "-");
        assertEquals(416, beyond.status());
        assertEquals("bytes */" + n, beyond.header(HttpHeaderNames.CONTENT_RANGE));
        assertEquals("RANGE_INVALID", beyond.code());

        Harness.Response multi = get("/v2/app/blobs/" + d, "bytes=0-1,4-5");
        assertEquals(200, multi.status());
        assertArrayEquals(LAYER, multi.body());
        finish();
    }

    @Test
    void chunkedUploadWithOutOfOrderChunk() {
        Harness.Response start = h.send(HttpMethod.POST, "/v2/app/blobs/uploads/");
        assertEquals(202, start.status());
        String location = start.header(HttpHeaderNames.LOCATION);
        String uuid = start.header("Docker-Upload-UUID");
        assertEquals("/v2/app/blobs/uploads/" + uuid, location);
        assertEquals("0-0", start.header(HttpHeaderNames.RANGE));

        Harness.Response first = patch(location, "0-9", java.util.Arrays.copyOfRange(LAYER, 0, 10));
        assertEquals(202, first.status());
        assertEquals("0-9", first.header(HttpHeaderNames.RANGE));
        assertEquals(location, first.header(HttpHeaderNames.LOCATION));

        Harness.Response skipped = patch(location, "20-29", java.util.Arrays.copyOfRange(LAYER, 20, 30));
        assertEquals(416, skipped.status());
        assertEquals("RANGE_INVALID", skipped.code());
        assertEquals("0-9", skipped.header(HttpHeaderNames.RANGE));

        Harness.Response status = h.send(HttpMethod.GET, location);
        assertEquals(204, status.status());
        assertEquals("0-9", status.header(HttpHeaderNames.RANGE));
        assertEquals(uuid, status.header("Docker-Upload-UUID"));

        Harness.Response rfcForm = patch(location, "bytes 10-19/*", java.util.Arrays.copyOfRange(LAYER, 10, 20));
        assertEquals(202, rfcForm.status());
        assertEquals("0-19", rfcForm.header(HttpHeaderNames.RANGE));

        // A streamed chunk needs no Content-Range.
        Harness.Response second = h.send(HttpMethod.PATCH, location, java.util.Arrays.copyOfRange(LAYER, 20, 30));
        assertEquals(202, second.status());
        assertEquals("0-29", second.header(HttpHeaderNames.RANGE));

        Digest d = Digest.sha256(LAYER);
        Harness.Response done = h.send(HttpMethod.PUT, location + "?digest=" + d, java.util.Arrays.copyOfRange(LAYER, 30, LAYER.length));
        assertEquals(201, done.status(), new String(done.body()));
        assertEquals("/v2/app/blobs/" + d, done.header(HttpHeaderNames.LOCATION));
        assertEquals(d.toString(), done.header("Docker-Content-Digest"));
        assertArrayEquals(LAYER, h.send(HttpMethod.GET, "/v2/app/blobs/" + d).body());
        assertEquals("BLOB_UPLOAD_UNKNOWN", h.send(HttpMethod.GET, location).code());
        finish();
    }

    @Test
    void putWithWrongDigestCommitsNothing() throws Exception {
        String location = h.send(HttpMethod.POST, "/v2/app/blobs/uploads/").header(HttpHeaderNames.LOCATION);
        Digest wrong = Digest.sha256(bytes("something else"));
        Harness.Response r = h.send(HttpMethod.PUT, location + "?digest=" + wrong, LAYER);
        assertEquals(400, r.status());
        assertEquals("DIGEST_INVALID", r.code());
        assertTrue(h.storage.blobs().stat(Digest.sha256(LAYER)).isEmpty());
        assertTrue(h.storage.blobs().stat(wrong).isEmpty());
        assertEquals(404, h.send(HttpMethod.GET, location).status());
        assertEquals(0, h.service.uploads().openSessions());
        try (Stream<Path> ingest = java.nio.file.Files.list(dir.resolve("ingest"))) {
            assertEquals(0, ingest.count());
        }
        Harness.Response noDigest = h.send(HttpMethod.PUT, h.send(HttpMethod.POST, "/v2/app/blobs/uploads/")
                .header(HttpHeaderNames.LOCATION));
        assertEquals("DIGEST_INVALID", noDigest.code());
        finish();
    }

    @Test
    void crossRepositoryMount() {
        Digest d = h.pushBlob("source", LAYER);
        Harness.Response mounted = h.send(HttpMethod.POST, "/v2/dest/blobs/uploads/?mount=" + d + "&from=source");
        assertEquals(201, mounted.status());
        assertEquals("/v2/dest/blobs/" + d, mounted.header(HttpHeaderNames.LOCATION));
        assertEquals(d.toString(), mounted.header("Docker-Content-Digest"));
        assertArrayEquals(LAYER, h.send(HttpMethod.GET, "/v2/dest/blobs/" + d).body());

        Harness.Response fallback = h.send(HttpMethod.POST, "/v2/dest2/blobs/uploads/?mount=" + d + "&from=nowhere");
        assertEquals(202, fallback.status());
        assertTrue(fallback.header(HttpHeaderNames.LOCATION).startsWith("/v2/dest2/blobs/uploads/"));
        finish();
    }

    /** The spec's "automatic content discovery": a mount without {@code from} finds the blob itself. */
    @Test
    void crossRepositoryMountWithoutFrom() {
        Digest d = h.pushBlob("a", LAYER);
        Harness.Response mounted = h.send(HttpMethod.POST, "/v2/b/blobs/uploads/?mount=" + d);
        assertEquals(201, mounted.status(), () -> new String(mounted.body()));
        assertEquals("/v2/b/blobs/" + d, mounted.header(HttpHeaderNames.LOCATION));
        assertEquals(d.toString(), mounted.header("Docker-Content-Digest"));
        assertApiVersion(mounted);
        Harness.Response get = h.send(HttpMethod.GET, "/v2/b/blobs/" + d);
        assertEquals(200, get.status());
        assertArrayEquals(LAYER, get.body());

        Digest unknown = Digest.sha256(bytes("never pushed"));
        Harness.Response fallback = h.send(HttpMethod.POST, "/v2/c/blobs/uploads/?mount=" + unknown);
        assertEquals(202, fallback.status());
        assertTrue(fallback.header(HttpHeaderNames.LOCATION).startsWith("/v2/c/blobs/uploads/"));

        // Deleted from every repository that had it: stored until collected, but no one's to mount.
        assertEquals(202, h.send(HttpMethod.DELETE, "/v2/a/blobs/" + d).status());
        assertEquals(202, h.send(HttpMethod.DELETE, "/v2/b/blobs/" + d).status());
        assertEquals(202, h.send(HttpMethod.POST, "/v2/c/blobs/uploads/?mount=" + d).status());
        assertEquals(404, h.send(HttpMethod.GET, "/v2/c/blobs/" + d).status());

        Harness.Response malformed = h.send(HttpMethod.POST, "/v2/c/blobs/uploads/?mount=sha256:nope");
        assertEquals(400, malformed.status());
        assertEquals("DIGEST_INVALID", malformed.code());
        finish();
    }

    @Test
    void tagsArePaginatedWithLinks() {
        h.pushBlob("app", CONFIG);
        byte[] m = manifest(CONFIG);
        for (String t : new String[] {"c", "a", "b"}) {
            assertEquals(201, put("app", t, m).status());
        }
        Harness.Response page1 = h.send(HttpMethod.GET, "/v2/app/tags/list?n=2");
        assertEquals(200, page1.status());
        assertEquals("app", page1.json().get("name").asText());
        assertEquals("[\"a\",\"b\"]", page1.json().get("tags").toString());
        assertEquals("</v2/app/tags/list?n=2&last=b>; rel=\"next\"", page1.header("Link"));
        Harness.Response page2 = h.send(HttpMethod.GET, "/v2/app/tags/list?n=2&last=b");
        assertEquals("[\"c\"]", page2.json().get("tags").toString());
        assertNull(page2.header("Link"));
        assertEquals("[\"a\",\"b\",\"c\"]", h.send(HttpMethod.GET, "/v2/app/tags/list").json().get("tags").toString());
        assertEquals("NAME_UNKNOWN", h.send(HttpMethod.GET, "/v2/nope/tags/list").code());
        assertEquals("PAGINATION_NUMBER_INVALID", h.send(HttpMethod.GET, "/v2/app/tags/list?n=x").code());
        finish();
    }

    @Test
    void catalogIsPaginated() {
        h.pushBlob("b", CONFIG);
        h.pushBlob("a/x", CONFIG);
        Harness.Response page1 = h.send(HttpMethod.GET, "/v2/_catalog?n=1");
        assertEquals("[\"a/x\"]", page1.json().get("repositories").toString());
        assertEquals("</v2/_catalog?n=1&last=a/x>; rel=\"next\"", page1.header("Link"));
        Harness.Response page2 = h.send(HttpMethod.GET, "/v2/_catalog?n=1&last=a/x");
        assertEquals("[\"b\"]", page2.json().get("repositories").toString());
        assertNull(page2.header("Link"));
        finish();
    }

    @Test
    void referrersWithArtifactTypeFilter() {
        h.pushBlob("app", CONFIG);
        byte[] image = manifest(CONFIG);
        put("app", "v1", image);
        String subject = descriptor(MediaTypes.OCI_MANIFEST, image);
        byte[] sig = manifest("application/vnd.example.sig", subject, Map.of(), CONFIG);
        byte[] sbom = manifest("application/vnd.example.sbom", subject, Map.of(), CONFIG);
        put("app", Digest.sha256(sig).toString(), sig);
        put("app", Digest.sha256(sbom).toString(), sbom);
        String uri = "/v2/app/referrers/" + Digest.sha256(image);

        Harness.Response all = h.send(HttpMethod.GET, uri);
        assertEquals(200, all.status());
        assertEquals(MediaTypes.OCI_INDEX, all.header(HttpHeaderNames.CONTENT_TYPE));
        assertEquals(2, all.json().get("manifests").size());
        assertNull(all.header("OCI-Filters-Applied"));

        Harness.Response filtered = h.send(HttpMethod.GET, uri + "?artifactType=application%2Fvnd.example.sig");
        assertEquals("artifactType", filtered.header("OCI-Filters-Applied"));
        JsonNode only = filtered.json().get("manifests");
        assertEquals(1, only.size());
        assertEquals(Digest.sha256(sig).toString(), only.get(0).get("digest").asText());

        Harness.Response none = h.send(HttpMethod.GET, "/v2/app/referrers/" + Digest.sha256(bytes("x")));
        assertEquals(200, none.status());
        assertEquals(0, none.json().get("manifests").size());
        finish();
    }

    @Test
    void deletesWhenEnabled() {
        Digest blob = h.pushBlob("app", CONFIG);
        put("app", "v1", manifest(CONFIG));
        assertEquals(202, h.send(HttpMethod.DELETE, "/v2/app/manifests/v1").status());
        assertEquals(404, h.send(HttpMethod.GET, "/v2/app/manifests/v1").status());
        assertEquals(202, h.send(HttpMethod.DELETE, "/v2/app/blobs/" + blob).status());
        assertEquals("BLOB_UNKNOWN", h.send(HttpMethod.DELETE, "/v2/app/blobs/" + blob).code());
        finish();
    }

    @Test
    void deleteDisabledIs405() throws Exception {
        h.close();
        h = new Harness(dir, Harness.settings(false), Runnable::run);
        Digest blob = h.pushBlob("app", CONFIG);
        put("app", "v1", manifest(CONFIG));
        Harness.Response m = h.send(HttpMethod.DELETE, "/v2/app/manifests/v1");
        assertEquals(405, m.status());
        assertEquals("UNSUPPORTED", m.code());
        Harness.Response b = h.send(HttpMethod.DELETE, "/v2/app/blobs/" + blob);
        assertEquals(405, b.status());
        assertEquals(200, h.send(HttpMethod.GET, "/v2/app/blobs/" + blob).status());
        String upload = h.send(HttpMethod.POST, "/v2/app/blobs/uploads/").header(HttpHeaderNames.LOCATION);
        assertEquals(204, h.send(HttpMethod.DELETE, upload).status());
        assertEquals(404, h.send(HttpMethod.GET, upload).status());
        finish();
    }

    @Test
    void errorBodyHasTheSpecShape() {
        Harness.Response r = h.send(HttpMethod.GET, "/v2/app/manifests/latest");
        assertEquals(404, r.status());
        assertApiVersion(r);
        assertTrue(r.header(HttpHeaderNames.CONTENT_TYPE).startsWith("application/json"));
        JsonNode errors = r.json().get("errors");
        assertEquals(1, errors.size());
        JsonNode e = errors.get(0);
        assertEquals("MANIFEST_UNKNOWN", e.get("code").asText());
        assertEquals("manifest unknown to registry", e.get("message").asText());
        assertTrue(e.get("detail").asText().contains("latest"));
        assertEquals(String.valueOf(r.body().length), r.header(HttpHeaderNames.CONTENT_LENGTH));
        finish();
    }

    /**
     * A reference that is neither a tag nor a digest names a manifest that cannot exist: reads and
     * deletes are 404 MANIFEST_UNKNOWN (what the OCI conformance suite expects), a push stays 400.
     */
    @Test
    void aManifestReferenceThatCannotExistIsUnknownToReadsAndInvalidToPushes() {
        h.pushBlob("app", CONFIG);
        String invalid = "/v2/app/manifests/.INVALID_MANIFEST_NAME";
        Harness.Response get = h.send(HttpMethod.GET, invalid);
        assertEquals(404, get.status());
        assertEquals("MANIFEST_UNKNOWN", get.code());
        assertTrue(get.json().get("errors").get(0).get("detail").asText().contains(".INVALID_MANIFEST_NAME"));
        assertApiVersion(get);
        assertTrue(get.header(HttpHeaderNames.CONTENT_TYPE).startsWith("application/json"));

        Harness.Response head = h.send(HttpMethod.HEAD, invalid);
        assertEquals(404, head.status());
        assertEquals(0, head.body().length, "HEAD has no body");
        assertApiVersion(head);

        Harness.Response malformedDigest = h.send(HttpMethod.GET, "/v2/app/manifests/sha256:abc");
        assertEquals(404, malformedDigest.status());
        assertEquals("MANIFEST_UNKNOWN", malformedDigest.code());

        HttpRequest put = Harness.request(HttpMethod.PUT, invalid);
        put.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        Harness.Response pushed = h.send(put, manifest(CONFIG));
        assertEquals(400, pushed.status());
        assertEquals("TAG_INVALID", pushed.code());
        HttpRequest putDigest = Harness.request(HttpMethod.PUT, "/v2/app/manifests/sha256:abc");
        putDigest.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        assertEquals("DIGEST_INVALID", h.send(putDigest, manifest(CONFIG)).code());

        Harness.Response delete = h.send(HttpMethod.DELETE, invalid);
        assertEquals(404, delete.status());
        assertEquals("MANIFEST_UNKNOWN", delete.code());
        assertEquals(405, h.send(HttpMethod.POST, invalid).status());

        // The refused push's body was dropped: the connection goes on.
        assertEquals(201, put("app", "v1", manifest(CONFIG)).status());
        finish();
    }

    @Test
    void oversizedManifestIs413() {
        byte[] big = bytes("{\"schemaVersion\":2,\"pad\":\"" + "x".repeat(5000) + "\"}");
        HttpRequest declared = Harness.request(HttpMethod.PUT, "/v2/app/manifests/big");
        declared.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/vnd.x+json");
        Harness.Response r = h.send(declared, big);
        assertEquals(413, r.status());
        assertEquals("SIZE_TOO_LARGE", r.code());

        // Without a Content-Length the limit is enforced while reading.
        HttpRequest chunked = Harness.request(HttpMethod.PUT, "/v2/app/manifests/big");
        chunked.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        chunked.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/vnd.x+json");
        Harness.Response r2 = h.send(chunked, java.util.Arrays.copyOf(big, 3000), java.util.Arrays.copyOfRange(big, 3000, big.length));
        assertEquals(413, r2.status());
        assertEquals(404, h.send(HttpMethod.GET, "/v2/app/manifests/big").status());
        finish();
    }

    static Stream<Arguments> refusedPaths() {
        return Stream.of(
                Arguments.of(HttpMethod.GET, "/v2/../etc/passwd", 400, "NAME_INVALID"),
                Arguments.of(HttpMethod.GET, "/v2/app/../../blobs/sha256:" + "a".repeat(64), 400, "NAME_INVALID"),
                Arguments.of(HttpMethod.GET, "/v2/app%2f..%2fx/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of(HttpMethod.GET, "/v2/%2e%2e/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of(HttpMethod.GET, "/v2/app\\..\\x/manifests/latest", 400, "NAME_INVALID"),
                Arguments.of(HttpMethod.GET, "/v2/app/manifests/-x", 404, "MANIFEST_UNKNOWN"),
                Arguments.of(HttpMethod.GET, "/v2/app/manifests/..", 400, "NAME_INVALID"),
                Arguments.of(HttpMethod.GET, "/v2/app/blobs/sha256:123", 400, "DIGEST_INVALID"),
                Arguments.of(HttpMethod.GET, "/etc/passwd", 404, "NOT_FOUND"),
                Arguments.of(HttpMethod.GET, "/v2/app/unknown/thing", 404, "NOT_FOUND"),
                Arguments.of(HttpMethod.POST, "/v2/app/manifests/latest", 405, "METHOD_NOT_ALLOWED"),
                Arguments.of(HttpMethod.PUT, "/v2/", 405, "METHOD_NOT_ALLOWED"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("refusedPaths")
    void refusesBadPaths(HttpMethod method, String uri, int status, String code) {
        Harness.Response r = h.send(method, uri);
        assertEquals(status, r.status());
        assertEquals(code, r.code());
        assertApiVersion(r);
        finish();
    }

    private Harness.Response put(String repo, String ref, byte[] manifest) {
        HttpRequest put = Harness.request(HttpMethod.PUT, "/v2/" + repo + "/manifests/" + ref);
        put.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        Harness.Response r = h.send(put, manifest);
        assertEquals(201, r.status(), () -> new String(r.body()));
        return r;
    }

    private Harness.Response get(String uri, String range) {
        HttpRequest get = Harness.request(HttpMethod.GET, uri);
        get.headers().set(HttpHeaderNames.RANGE, range);
        return h.send(get);
    }

    private Harness.Response patch(String location, String contentRange, byte[] chunk) {
        HttpRequest patch = Harness.request(HttpMethod.PATCH, location);
        patch.headers().set(HttpHeaderNames.CONTENT_RANGE, contentRange);
        return h.send(patch, chunk);
    }

}
