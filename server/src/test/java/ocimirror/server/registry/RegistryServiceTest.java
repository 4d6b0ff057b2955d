package ocimirror.server.registry;

import static ocimirror.testing.Images.bytes;
import static ocimirror.testing.Images.descriptor;
import static ocimirror.testing.Images.index;
import static ocimirror.testing.Images.manifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import ocimirror.server.route.OciRoute;
import ocimirror.storage.Storage;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.meta.Page;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class RegistryServiceTest {
    static final RepoName REPO = RepoName.of("team/app");
    static final byte[] CONFIG = bytes("{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    static final byte[] LAYER = bytes("layer bytes, pretend they are gzip");

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    Storage storage;
    RegistryService service;
    BlobUploads uploads;

    @BeforeEach
    void open() throws Exception {
        storage = Storage.open(dir, clock);
        service = service(true);
    }

    RegistryService service(boolean deleteEnabled) {
        RegistryService s = new RegistryService(storage.blobs(), storage.metadata(), clock,
                new RegistryService.Settings(1024, 1000, deleteEnabled, Duration.ofHours(1)));
        uploads = s.uploads();
        return s;
    }

    @AfterEach
    void close() {
        storage.close();
    }

    Digest push(RepoName repo, byte[] content) {
        UploadSession s = uploads.start(repo);
        uploads.append(s, ByteBuffer.wrap(content));
        return uploads.complete(s, Digest.sha256(content)).digest();
    }

    static OciError error(Executable e) {
        return assertThrows(OciException.class, e).error();
    }

    @Test
    void manifestPushedByTagIsServedByTagAndDigest() {
        push(REPO, CONFIG);
        push(REPO, LAYER);
        byte[] m = manifest(CONFIG, LAYER);
        RegistryService.PutManifestResult put = service.putManifest(REPO, new Reference.Tag("v1"), MediaTypes.OCI_MANIFEST, m);
        assertEquals(Digest.sha256(m), put.digest());
        assertNull(put.subject());

        RegistryService.ManifestContent byTag = service.manifest(REPO, new Reference.Tag("v1"));
        RegistryService.ManifestContent byDigest = service.manifest(REPO, new Reference.ByDigest(put.digest()));
        assertEquals(put.digest(), byTag.digest());
        assertEquals(MediaTypes.OCI_MANIFEST, byTag.mediaType());
        assertEquals(byTag, byDigest);
        assertEquals(m.length, byTag.blob().size());
        assertArrayEquals(m, readAll(byTag.blob()));
        assertEquals(OciError.MANIFEST_UNKNOWN, error(() -> service.manifest(REPO, new Reference.Tag("v2"))));
        assertEquals(OciError.MANIFEST_UNKNOWN, error(() -> service.manifest(RepoName.of("other"), new Reference.Tag("v1"))));
    }

    @Test
    void manifestMayOnlyReferenceBlobsLinkedInItsRepository() {
        push(RepoName.of("elsewhere"), CONFIG);
        push(REPO, LAYER);
        byte[] m = manifest(CONFIG, LAYER);
        assertEquals(OciError.MANIFEST_BLOB_UNKNOWN,
                error(() -> service.putManifest(REPO, new Reference.Tag("v1"), MediaTypes.OCI_MANIFEST, m)));
        push(REPO, CONFIG);
        service.putManifest(REPO, new Reference.Tag("v1"), MediaTypes.OCI_MANIFEST, m);
    }

    @Test
    void indexMayOnlyReferenceManifestsOfItsRepository() {
        push(REPO, CONFIG);
        push(REPO, LAYER);
        byte[] child = manifest(CONFIG, LAYER);
        byte[] idx = index(child);
        assertEquals(OciError.MANIFEST_BLOB_UNKNOWN,
                error(() -> service.putManifest(REPO, new Reference.Tag("multi"), MediaTypes.OCI_INDEX, idx)));
        service.putManifest(REPO, new Reference.ByDigest(Digest.sha256(child)), MediaTypes.OCI_MANIFEST, child);
        assertEquals(Digest.sha256(idx),
                service.putManifest(REPO, new Reference.Tag("multi"), MediaTypes.OCI_INDEX, idx).digest());
        assertEquals(MediaTypes.OCI_INDEX, service.manifest(REPO, new Reference.Tag("multi")).mediaType());
    }

    @Test
    void refusesInvalidManifests() {
        push(REPO, CONFIG);
        push(REPO, LAYER);
        byte[] good = manifest(CONFIG, LAYER);
        Reference tag = new Reference.Tag("t");
        List<Map.Entry<byte[], String>> cases = List.of(
                Map.entry(bytes("not json"), MediaTypes.OCI_MANIFEST),
                Map.entry(bytes("[1,2]"), MediaTypes.OCI_MANIFEST),
                Map.entry(bytes("{\"schemaVersion\":1,\"config\":" + descriptor("x", CONFIG) + "}"), MediaTypes.OCI_MANIFEST),
                Map.entry(bytes("{\"schemaVersion\":2,\"layers\":[]}"), MediaTypes.OCI_MANIFEST),
                Map.entry(bytes("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:zz\",\"size\":1,\"mediaType\":\"x\"}}"),
                        MediaTypes.OCI_MANIFEST),
                Map.entry(bytes("{\"schemaVersion\":2,\"schemaVersion\":2,\"config\":" + descriptor("x", CONFIG) + "}"),
                        MediaTypes.OCI_MANIFEST),
                Map.entry(bytes(new String(good) + " {}"), MediaTypes.OCI_MANIFEST), // trailing garbage
                Map.entry(good, MediaTypes.DOCKER_MANIFEST), // body says OCI, header says Docker
                Map.entry(good, "text/plain"),
                Map.entry(bytes("{\"schemaVersion\":2}"), MediaTypes.OCI_INDEX));
        for (Map.Entry<byte[], String> c : cases) {
            assertEquals(OciError.MANIFEST_INVALID, error(() -> service.putManifest(REPO, tag, c.getValue(), c.getKey())),
                    new String(c.getKey()) + " as " + c.getValue());
        }
        assertEquals(OciError.MANIFEST_INVALID, error(() -> service.putManifest(REPO, tag, null, bytes("{\"schemaVersion\":2}"))));
        assertTrue(storage.metadata().getTag(REPO, "t").isEmpty());
    }

    @Test
    void contentTypeMayBeLeftToTheBodyAndParametersAreIgnored() {
        push(REPO, CONFIG);
        push(REPO, LAYER);
        byte[] m = manifest(CONFIG, LAYER);
        service.putManifest(REPO, new Reference.Tag("a"), null, m);
        service.putManifest(REPO, new Reference.Tag("b"), MediaTypes.OCI_MANIFEST + "; charset=utf-8", m);
        assertEquals(MediaTypes.OCI_MANIFEST, service.manifest(REPO, new Reference.Tag("a")).mediaType());
        assertEquals(MediaTypes.OCI_MANIFEST, service.manifest(REPO, new Reference.Tag("b")).mediaType());
    }

    @Test
    void opaqueJsonArtifactsAreStoredAsIs() {
        byte[] doc = bytes("{\"anything\":[1,2,3]}");
        String type = "application/vnd.example.thing+json";
        Digest d = service.putManifest(REPO, new Reference.Tag("art"), type, doc).digest();
        assertEquals(type, service.manifest(REPO, new Reference.ByDigest(d)).mediaType());
        assertEquals(OciError.MANIFEST_INVALID,
                error(() -> service.putManifest(REPO, new Reference.Tag("x"), "application/octet-stream", doc)));
    }

    @Test
    void pushByDigestVerifiesTheDigest() {
        push(REPO, CONFIG);
        byte[] m = manifest(CONFIG);
        Digest wrong = Digest.sha256(bytes("something else"));
        assertEquals(OciError.DIGEST_INVALID,
                error(() -> service.putManifest(REPO, new Reference.ByDigest(wrong), MediaTypes.OCI_MANIFEST, m)));
        Digest sha512 = Digest.of(Digest.Algorithm.SHA512, m);
        assertEquals(sha512, service.putManifest(REPO, new Reference.ByDigest(sha512), MediaTypes.OCI_MANIFEST, m).digest());
        assertEquals(MediaTypes.OCI_MANIFEST, service.manifest(REPO, new Reference.ByDigest(sha512)).mediaType());
    }

    @Test
    void oversizedManifestIsRefused() {
        byte[] big = bytes("{\"schemaVersion\":2,\"pad\":\"" + "x".repeat(1100) + "\"}");
        assertEquals(OciError.SIZE_TOO_LARGE,
                error(() -> service.putManifest(REPO, new Reference.Tag("big"), "application/vnd.x+json", big)));
    }

    @Test
    void referrersListsSubjectsWithArtifactTypeAndFilter() throws Exception {
        push(REPO, CONFIG);
        push(REPO, LAYER);
        byte[] image = manifest(CONFIG, LAYER);
        Digest subject = service.putManifest(REPO, new Reference.Tag("v1"), MediaTypes.OCI_MANIFEST, image).digest();
        String subjectDesc = descriptor(MediaTypes.OCI_MANIFEST, image);
        byte[] empty = bytes("{}");
        push(REPO, empty);
        byte[] sig = manifest("application/vnd.example.sig", subjectDesc, Map.of("k", "v"), empty);
        byte[] sbom = manifest("application/vnd.example.sbom", subjectDesc, Map.of(), empty);
        RegistryService.PutManifestResult r = service.putManifest(REPO, new Reference.ByDigest(Digest.sha256(sig)),
                MediaTypes.OCI_MANIFEST, sig);
        assertEquals(subject, r.subject());
        service.putManifest(REPO, new Reference.ByDigest(Digest.sha256(sbom)), MediaTypes.OCI_MANIFEST, sbom);

        JsonMapper json = new JsonMapper();
        JsonNode all = json.readTree(service.referrers(REPO, subject, null));
        assertEquals(2, all.get("schemaVersion").asInt());
        assertEquals(MediaTypes.OCI_INDEX, all.get("mediaType").asText());
        assertEquals(2, all.get("manifests").size());

        JsonNode sigs = json.readTree(service.referrers(REPO, subject, "application/vnd.example.sig"));
        assertEquals(1, sigs.get("manifests").size());
        JsonNode d = sigs.get("manifests").get(0);
        assertEquals(Digest.sha256(sig).toString(), d.get("digest").asText());
        assertEquals(sig.length, d.get("size").asLong());
        assertEquals(MediaTypes.OCI_MANIFEST, d.get("mediaType").asText());
        assertEquals("application/vnd.example.sig", d.get("artifactType").asText());
        assertEquals("v", d.get("annotations").get("k").asText());

        Digest unknown = Digest.sha256(bytes("nobody refers to me"));
        assertEquals(0, json.readTree(service.referrers(REPO, unknown, null)).get("manifests").size());
    }

    @Test
    void artifactTypeDefaultsToConfigMediaType() throws Exception {
        push(REPO, CONFIG);
        byte[] image = manifest(CONFIG);
        Digest subject = service.putManifest(REPO, new Reference.Tag("v1"), MediaTypes.OCI_MANIFEST, image).digest();
        byte[] ref = manifest(null, descriptor(MediaTypes.OCI_MANIFEST, image), Map.of(), CONFIG);
        service.putManifest(REPO, new Reference.Tag("ref"), MediaTypes.OCI_MANIFEST, ref);
        JsonNode d = new JsonMapper().readTree(service.referrers(REPO, subject, null)).get("manifests").get(0);
        assertEquals(ocimirror.testing.Images.CONFIG_TYPE, d.get("artifactType").asText());
    }

    @Test
    void deletesManifestsTagsAndBlobs() {
        Digest config = push(REPO, CONFIG);
        byte[] m = manifest(CONFIG);
        Digest d = service.putManifest(REPO, new Reference.Tag("v1"), MediaTypes.OCI_MANIFEST, m).digest();
        service.putManifest(REPO, new Reference.Tag("v2"), MediaTypes.OCI_MANIFEST, m);

        service.deleteManifest(REPO, new Reference.Tag("v1"));
        assertEquals(OciError.MANIFEST_UNKNOWN, error(() -> service.manifest(REPO, new Reference.Tag("v1"))));
        assertEquals(d, service.manifest(REPO, new Reference.Tag("v2")).digest());
        service.deleteManifest(REPO, new Reference.ByDigest(d));
        assertEquals(OciError.MANIFEST_UNKNOWN, error(() -> service.manifest(REPO, new Reference.Tag("v2"))));
        assertEquals(OciError.MANIFEST_UNKNOWN, error(() -> service.deleteManifest(REPO, new Reference.ByDigest(d))));

        assertEquals(config, service.blob(REPO, config).digest());
        service.deleteBlob(REPO, config);
        assertEquals(OciError.BLOB_UNKNOWN, error(() -> service.blob(REPO, config)));
        assertEquals(OciError.BLOB_UNKNOWN, error(() -> service.deleteBlob(REPO, config)));
    }

    @Test
    void deletionCanBeDisabled() {
        Digest config = push(REPO, CONFIG);
        service = service(false);
        assertEquals(OciError.UNSUPPORTED, error(() -> service.deleteBlob(REPO, config)));
        assertEquals(OciError.UNSUPPORTED, error(() -> service.deleteManifest(REPO, new Reference.Tag("v1"))));
        assertEquals(config, service.blob(REPO, config).digest());
    }

    @Test
    void blobsAreVisibleOnlyWhereLinked() {
        Digest d = push(REPO, LAYER);
        assertEquals(LAYER.length, service.blob(REPO, d).size());
        assertEquals(OciError.BLOB_UNKNOWN, error(() -> service.blob(RepoName.of("other"), d)));
    }

    @Test
    void tagsArePagedAndUnknownRepositoriesRefused() {
        push(REPO, CONFIG);
        byte[] m = manifest(CONFIG);
        for (String t : List.of("c", "a", "b")) {
            service.putManifest(REPO, new Reference.Tag(t), MediaTypes.OCI_MANIFEST, m);
        }
        assertEquals(new RegistryService.TagList(REPO, List.of("a", "b", "c"), false), service.tags(REPO, OciRoute.ALL, null));
        assertEquals(new RegistryService.TagList(REPO, List.of("a", "b"), true), service.tags(REPO, 2, null));
        assertEquals(new RegistryService.TagList(REPO, List.of("c"), false), service.tags(REPO, 2, "b"));
        assertEquals(new RegistryService.TagList(REPO, List.of(), false), service.tags(REPO, 0, null));
        assertEquals(OciError.NAME_UNKNOWN, error(() -> service.tags(RepoName.of("nope"), OciRoute.ALL, null)));
    }

    @Test
    void catalogListsRepositories() {
        push(RepoName.of("b/one"), CONFIG);
        push(RepoName.of("a"), CONFIG);
        push(RepoName.of("c"), CONFIG);
        assertEquals(new Page<>(List.of("a", "b/one", "c"), false), service.catalog(OciRoute.ALL, null));
        assertEquals(new Page<>(List.of("a", "b/one"), true), service.catalog(2, null));
        assertEquals(new Page<>(List.of("c"), false), service.catalog(2, "b/one"));
    }

    @Test
    void aCatalogPageOfListableNamesStaysFullWhileMoreFollow() {
        for (String name : List.of("a", "b", "c", "d", "e")) {
            push(RepoName.of(name), CONFIG);
        }
        java.util.function.Predicate<String> notBorC = name -> !name.equals("b") && !name.equals("c");
        assertEquals(new Page<>(List.of("a", "d"), true), service.catalog(2, null, notBorC));
        assertEquals(new Page<>(List.of("e"), false), service.catalog(2, "d", notBorC));
        assertEquals(new Page<>(List.of("a", "d", "e"), false), service.catalog(OciRoute.ALL, null, notBorC));
        assertEquals(new Page<>(List.of(), false), service.catalog(3, null, name -> false));
    }

    @Test
    void uploadWithWrongDigestCommitsNothing() throws Exception {
        UploadSession s = uploads.start(REPO);
        uploads.append(s, ByteBuffer.wrap(LAYER));
        Digest wrong = Digest.sha256(bytes("other"));
        assertEquals(OciError.DIGEST_INVALID, error(() -> uploads.complete(s, wrong)));
        assertTrue(storage.blobs().stat(Digest.sha256(LAYER)).isEmpty());
        assertTrue(storage.blobs().stat(wrong).isEmpty());
        assertFalse(storage.metadata().isBlobLinked(REPO, wrong));
        assertEquals(0, uploads.openSessions());
        assertTrue(storage.metadata().getUpload(s.id()).isEmpty());
        assertEquals(OciError.BLOB_UPLOAD_UNKNOWN, error(() -> uploads.acquire(REPO, s.id())));
        try (Stream<Path> ingest = Files.list(dir.resolve("ingest"))) {
            assertEquals(0, ingest.count());
        }
    }

    @Test
    void chunkedUploadKeepsItsOffsetBetweenRequests() {
        UploadSession s = uploads.start(REPO);
        assertTrue(storage.metadata().getUpload(s.id()).isPresent());
        uploads.append(s, ByteBuffer.wrap(LAYER, 0, 10));
        uploads.release(s);
        assertEquals(10, uploads.status(REPO, s.id()).offset());
        assertEquals(OciError.BLOB_UPLOAD_UNKNOWN, error(() -> uploads.status(RepoName.of("other"), s.id())));

        UploadSession again = uploads.acquire(REPO, s.id());
        assertEquals(OciError.BLOB_UPLOAD_INVALID, error(() -> uploads.acquire(REPO, s.id())));
        uploads.append(again, ByteBuffer.wrap(LAYER, 10, LAYER.length - 10));
        BlobInfo info = uploads.complete(again, Digest.sha256(LAYER));
        assertEquals(LAYER.length, info.size());
        assertTrue(storage.metadata().isBlobLinked(REPO, info.digest()));
        assertEquals(LAYER.length, storage.metadata().getBlob(info.digest()).orElseThrow().size());
    }

    @Test
    void missingDigestLeavesTheSessionOpen() {
        UploadSession s = uploads.start(REPO);
        assertEquals(OciError.DIGEST_INVALID, error(() -> uploads.complete(s, null)));
        uploads.release(s);
        assertEquals(s, uploads.status(REPO, s.id()));
    }

    @Test
    void uploadsAreLimitedInSize() {
        UploadSession s = uploads.start(REPO);
        assertEquals(OciError.SIZE_TOO_LARGE, error(() -> uploads.append(s, ByteBuffer.allocate(1001))));
        assertEquals(0, uploads.openSessions());
    }

    @Test
    void idleUploadsExpire() {
        UploadSession idle = uploads.start(REPO);
        uploads.release(idle);
        clock.advance(Duration.ofMinutes(30));
        UploadSession active = uploads.start(REPO);
        uploads.release(active);
        assertEquals(0, uploads.expireIdle());
        clock.advance(Duration.ofMinutes(31));
        assertEquals(1, uploads.expireIdle());
        assertEquals(OciError.BLOB_UPLOAD_UNKNOWN, error(() -> uploads.status(REPO, idle.id())));
        assertEquals(active, uploads.status(REPO, active.id()));
        assertTrue(storage.metadata().getUpload(idle.id()).isEmpty());
    }

    @Test
    void cancelDiscardsTheUpload() {
        UploadSession s = uploads.start(REPO);
        uploads.release(s);
        uploads.cancel(REPO, s.id());
        assertEquals(OciError.BLOB_UPLOAD_UNKNOWN, error(() -> uploads.cancel(REPO, s.id())));
    }

    @Test
    void mountLinksOnlyWhatTheSourceHas() {
        Digest d = push(RepoName.of("source"), LAYER);
        assertTrue(uploads.mount(REPO, d, RepoName.of("elsewhere")).isEmpty());
        assertEquals(OciError.BLOB_UNKNOWN, error(() -> service.blob(REPO, d)));
        assertEquals(d, uploads.mount(REPO, d, RepoName.of("source")).orElseThrow().digest());
        assertEquals(d, service.blob(REPO, d).digest());
    }

    @Test
    void mountWithoutFromTakesABlobThatSomeRepositoryLinks() {
        Digest d = push(RepoName.of("source"), LAYER);
        RepoName target = RepoName.of("target");
        assertEquals(d, uploads.mount(target, d, null).orElseThrow().digest());
        assertEquals(d, service.blob(target, d).digest());
        assertTrue(uploads.mount(target, Digest.sha256(bytes("unknown")), null).isEmpty());
    }

    @Test
    void mountWithoutFromSkipsABlobThatNoRepositoryLinks() {
        Digest d = push(RepoName.of("source"), LAYER);
        service.deleteBlob(RepoName.of("source"), d);
        assertTrue(storage.blobs().stat(d).isPresent(), "still stored, until collected");
        assertTrue(uploads.mount(REPO, d, null).isEmpty());
        assertEquals(OciError.BLOB_UNKNOWN, error(() -> service.blob(REPO, d)));
    }

    private static byte[] readAll(BlobInfo blob) {
        try {
            return Files.readAllBytes(blob.path());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
