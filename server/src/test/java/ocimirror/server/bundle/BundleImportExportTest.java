package ocimirror.server.bundle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.image.ImageName;
import ocimirror.server.image.Platform;
import ocimirror.server.progress.Progress;
import ocimirror.storage.Storage;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.Bundles;
import ocimirror.testing.MutableClock;
import ocimirror.testing.OciLayoutBuilder;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Import and export against real data directories, with bundles written in the test. */
class BundleImportExportTest {
    static final String APP = "gcr.io/team/app:1";
    static final String TOOL = "gcr.io/team/tool:2";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    final MutableClock clock = new MutableClock(Instant.parse("2025-03-01T10:00:00Z"));
    MirrorConfig config;
    Path layout;
    OciLayoutBuilder.ImageIndex multi;
    OciLayoutBuilder.Image single;

    @BeforeEach
    void setUp() throws IOException {
        // The upstream is never contacted: import and export are offline.
        UpstreamConfig gcr = UpstreamConfig.builder("gcr.io", "http://127.0.0.1:9").plainHttp(true).aliases("gcr.io")
                .build();
        config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), tmp.resolve("data"), null, null,
                List.of(gcr), List.of("local"), null, TlsConfig.off(), null);
        layout = tmp.resolve("layout");
        OciLayoutBuilder b = new OciLayoutBuilder(layout, 7);
        OciLayoutBuilder.Image amd = b.image("linux", "amd64", List.of(b.randomLayer("amd.bin", 4000)));
        OciLayoutBuilder.Image arm = b.image("linux", "arm64", List.of(b.randomLayer("arm.bin", 5000)));
        multi = b.index(List.of(amd, arm));
        // two.bin is larger than what a bundle tar keeps in memory: it is staged in an ingest file.
        single = b.image("linux", "amd64", List.of(b.randomLayer("one.bin", 3000),
                b.randomLayer("two.bin", 100_000)));
        b.tag(APP, multi.index());
        b.tag(TOOL, single.manifest());
        b.finish();
    }

    Importer.Result importInto(Path data, Path source, Importer.Options options) throws IOException {
        try (Storage s = Storage.open(data, clock)) {
            return new Importer(s, config.withDataDir(data), clock).run(source, options, step -> Progress.none());
        }
    }

    static Importer.Options asNamed() {
        return new Importer.Options(new Importer.Target.AsNamed(), null);
    }

    @ParameterizedTest
    @EnumSource(Bundles.Packing.class)
    void aLayoutTarInAnyCompressionSeedsTheUpstreamsCache(Bundles.Packing packing) throws IOException {
        Path tar = Bundles.tar(layout, tmp.resolve("bundle"), packing);
        Path data = tmp.resolve("data");
        Importer.Result r = importInto(data, tar, new Importer.Options(new Importer.Target.Upstream("gcr.io"), null));
        assertEquals(2, r.images().size(), r.toString());
        assertEquals(7, r.blobs(), "2 configs and 2 layers of the index, 1 config and 2 layers of the tool");
        try (Storage s = Storage.open(data, clock)) {
            RepoName repo = RepoName.of("gcr.io/team/app");
            TagRecord tag = s.metadata().getTag(repo, "1").orElseThrow();
            assertEquals(multi.index().digest(), tag.digest().toString());
            assertEquals(MediaTypes.OCI_INDEX, tag.mediaType());
            assertEquals(clock.millis(), tag.fetchedAt(), "as if fetched now");
            assertEquals(clock.millis(), tag.checkedAt());
            for (OciLayoutBuilder.Blob m : List.of(multi.index(), multi.byPlatform().get("linux/amd64").manifest(),
                    multi.byPlatform().get("linux/arm64").manifest())) {
                assertTrue(s.metadata().getManifest(repo, Digest.parse(m.digest())).isPresent(), m.digest());
            }
            for (OciLayoutBuilder.Blob b : multi.blobs()) {
                assertArrayEquals(b.bytes(), Files.readAllBytes(s.blobs().stat(Digest.parse(b.digest())).orElseThrow()
                        .path()), b.digest());
            }
            OciLayoutBuilder.Blob layer = single.layers().get(0).blob();
            assertTrue(s.metadata().isBlobLinked(RepoName.of("gcr.io/team/tool"), Digest.parse(layer.digest())));
            assertTrue(s.metadata().getBlob(Digest.parse(layer.digest())).isPresent(), "blob record");
        }
        assertEquals(List.of(), ingest(data), "staged files are gone");
    }

    @Test
    void namedImagesGoWhereRequestsForThemWouldAndANamespaceHostsThem() throws IOException {
        Path data = tmp.resolve("data");
        importInto(data, layout, asNamed());
        importInto(data, layout, new Importer.Options(new Importer.Target.Namespace("local"), null));
        try (Storage s = Storage.open(data, clock)) {
            assertEquals(single.manifest().digest(), s.metadata().getTag(RepoName.of("gcr.io/team/tool"), "2")
                    .orElseThrow().digest().toString(), "alias prefix: the upstream's cache");
            assertEquals(multi.index().digest(), s.metadata().getTag(RepoName.of("local/team/app"), "1")
                    .orElseThrow().digest().toString(), "hosted: the host is dropped");
            assertTrue(s.metadata().isBlobLinked(RepoName.of("local/team/tool"),
                    Digest.parse(single.config().digest())));
        }
    }

    @Test
    void aBareTagNeedsANameAndKeepsItsTag() throws IOException {
        Path dir = tmp.resolve("bare");
        OciLayoutBuilder b = new OciLayoutBuilder(dir, 8);
        OciLayoutBuilder.Image image = b.image("linux", "amd64", List.of(b.randomLayer("x.bin", 100)));
        b.tag("1.4", image.manifest()); // what skopeo writes for oci:DIR:1.4
        b.finish();
        Importer.Options local = new Importer.Options(new Importer.Target.Namespace("local"), null);
        BundleException e = assertThrows(BundleException.class, () -> importInto(tmp.resolve("data"), dir, local));
        assertTrue(e.getMessage().contains("has no name in the bundle (only the tag '1.4'): give one with --name REPO"),
                e.getMessage());
        importInto(tmp.resolve("data"), dir, new Importer.Options(new Importer.Target.Namespace("local"), "team/x"));
        importInto(tmp.resolve("data"), dir, new Importer.Options(new Importer.Target.Namespace("local"), "team/y:2"));
        try (Storage s = Storage.open(tmp.resolve("data"), clock)) {
            assertEquals(image.manifest().digest(), s.metadata().getTag(RepoName.of("local/team/x"), "1.4")
                    .orElseThrow().digest().toString());
            assertTrue(s.metadata().getTag(RepoName.of("local/team/y"), "2").isPresent());
        }
    }

    @Test
    void namespacesAndUpstreamsAreCheckedAgainstTheConfiguration() {
        IllegalArgumentException ns = assertThrows(IllegalArgumentException.class, () -> Importer.check(config,
                new Importer.Options(new Importer.Target.Namespace("other"), null)));
        assertTrue(ns.getMessage().contains("not a hosted namespace of this configuration (hosted: [local])"),
                ns.getMessage());
        IllegalArgumentException up = assertThrows(IllegalArgumentException.class, () -> Importer.check(config,
                new Importer.Options(new Importer.Target.Upstream("quay.io"), null)));
        assertTrue(up.getMessage().contains("names no upstream of this configuration (configured: gcr.io)"),
                up.getMessage());
    }

    @Test
    void aTamperedLayerIsRefusedAndNothingOfTheBundleIsKept() throws IOException {
        // Same size, one byte changed: only the digest can tell.
        Path layer = layout.resolve("blobs/sha256/" + single.layers().get(1).blob().digest().substring(7));
        byte[] bytes = Files.readAllBytes(layer);
        bytes[bytes.length / 2] ^= 1;
        Files.write(layer, bytes);
        Path tar = Bundles.tar(layout, tmp.resolve("bundle.tar.gz"), Bundles.Packing.TAR_GZ);
        Path data = tmp.resolve("data");
        BundleException e = assertThrows(BundleException.class, () -> importInto(data, tar, asNamed()));
        assertTrue(e.getMessage().contains("is not blob " + single.layers().get(1).blob().digest()), e.getMessage());
        assertTrue(e.getMessage().contains("damaged or was altered; nothing imported"), e.getMessage());
        try (Storage s = Storage.open(data, clock)) {
            assertTrue(s.metadata().getTag(RepoName.of("gcr.io/team/tool"), "2").isEmpty());
            assertTrue(s.metadata().getTag(RepoName.of("gcr.io/team/app"), "1").isEmpty());
            for (OciLayoutBuilder.Blob b : Stream.concat(multi.blobs().stream(), single.blobs().stream()).toList()) {
                assertTrue(s.blobs().stat(Digest.parse(b.digest())).isEmpty(), "kept " + b.digest());
            }
        }
        assertEquals(List.of(), ingest(data));
    }

    @Test
    void aTamperedManifestIsRefusedBeforeAnythingIsWritten() throws IOException {
        Path manifest = layout.resolve("blobs/sha256/" + single.manifest().digest().substring(7));
        Files.writeString(manifest, Files.readString(manifest).replace("\"schemaVersion\":2", "\"schemaVersion\":2 "));
        BundleException e = assertThrows(BundleException.class, () -> importInto(tmp.resolve("data"), layout,
                asNamed()));
        assertTrue(e.getMessage().contains("the bundle is damaged or was altered"), e.getMessage());
        assertEquals(Set.of(), blobFiles(tmp.resolve("data")));
    }

    @Test
    void aDockerSaveArchiveBecomesSchema2ManifestsOverItsUncompressedLayers() throws IOException {
        Bundles.DockerSave save = Bundles.dockerSave(tmp.resolve("save.tar"), "gcr.io/team/legacy", 3);
        Path data = tmp.resolve("data");
        Importer.Result r = importInto(data, save.file(), asNamed());
        assertEquals(2, r.images().size());
        assertEquals(5, r.blobs(), "two configs and three layers (A is shared through a symbolic link)");
        Digest first;
        try (Storage s = Storage.open(data, clock)) {
            for (Bundles.SavedImage image : save.images()) {
                String tag = image.repoTag().substring(image.repoTag().lastIndexOf(':') + 1);
                TagRecord rec = s.metadata().getTag(RepoName.of("gcr.io/team/legacy"), tag).orElseThrow();
                assertEquals(MediaTypes.DOCKER_MANIFEST, rec.mediaType());
                JsonNode m = JSON.readTree(Files.readAllBytes(s.blobs().stat(rec.digest()).orElseThrow().path()));
                assertEquals(image.configDigest(), m.path("config").path("digest").asText());
                assertEquals(DockerSave.CONFIG, m.path("config").path("mediaType").asText());
                for (int i = 0; i < image.layers().size(); i++) {
                    JsonNode l = m.path("layers").get(i);
                    assertEquals(DockerSave.LAYER, l.path("mediaType").asText());
                    assertEquals(image.diffIds().get(i), l.path("digest").asText(), "a layer's digest is its diff_id");
                    assertArrayEquals(image.layers().get(i), Files.readAllBytes(s.blobs()
                            .stat(Digest.parse(image.diffIds().get(i))).orElseThrow().path()));
                }
            }
            first = s.metadata().getTag(RepoName.of("gcr.io/team/legacy"), "1").orElseThrow().digest();
        }
        importInto(tmp.resolve("again"), save.file(), asNamed());
        try (Storage s = Storage.open(tmp.resolve("again"), clock)) {
            assertEquals(first, s.metadata().getTag(RepoName.of("gcr.io/team/legacy"), "1").orElseThrow().digest(),
                    "the written manifest is the same on every import");
        }
    }

    @Test
    void aDockerSaveLayerThatIsNotItsDiffIdIsRefused() throws IOException {
        Bundles.DockerSave save = Bundles.dockerSave(tmp.resolve("save.tar"), "gcr.io/team/legacy", 4);
        // Rewrite the archive with one layer byte flipped.
        Map<String, byte[]> files = Bundles.read(save.file());
        String layerPath = files.keySet().stream().filter(n -> n.endsWith("layer.tar")).findFirst().orElseThrow();
        files.get(layerPath)[600] ^= 1;
        Path bad = tmp.resolve("bad.tar");
        try (var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(Files.newOutputStream(bad))) {
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                var e = new org.apache.commons.compress.archivers.tar.TarArchiveEntry(f.getKey());
                e.setSize(f.getValue().length);
                tar.putArchiveEntry(e);
                tar.write(f.getValue());
                tar.closeArchiveEntry();
            }
        }
        BundleException e = assertThrows(BundleException.class, () -> importInto(tmp.resolve("data"), bad,
                asNamed()));
        assertTrue(e.getMessage().contains(layerPath + " is not blob sha256:"), e.getMessage());
        assertEquals(Set.of(), blobFiles(tmp.resolve("data")));
    }

    @Test
    void exportThenImportElsewhereKeepsEveryDigestAndByte() throws IOException {
        Path a = tmp.resolve("site-a");
        importInto(a, layout, asNamed());
        importInto(a, layout, new Importer.Options(new Importer.Target.Namespace("local"), null));
        Path bundle = tmp.resolve("out/site-b.tar");
        Files.createDirectories(bundle.getParent());
        Exporter.Result r;
        try (Storage s = Storage.open(a, clock)) {
            r = new Exporter(s, config.withDataDir(a), clock).run(List.of(ImageName.parse(APP),
                    ImageName.parse("local/team/tool:2")), null, bundle, step -> Progress.none());
        }
        assertEquals(2, r.images().size());
        assertEquals(List.of("site-b.tar"), list(bundle.getParent()), "no temporary file left");
        Map<String, byte[]> files = Bundles.read(bundle);
        JsonNode index = JSON.readTree(files.get("index.json"));
        assertEquals(APP, index.path("manifests").get(0).path("annotations")
                .path(BundleReader.REF_NAME).asText());
        assertEquals(APP, index.path("manifests").get(0).path("annotations")
                .path(BundleReader.CONTAINERD_NAME).asText(), "a full name is containerd's image name too");
        assertEquals(multi.index().digest(), index.path("manifests").get(0).path("digest").asText());

        Path b = tmp.resolve("site-b");
        importInto(b, bundle, asNamed());
        try (Storage s = Storage.open(b, clock)) {
            assertEquals(multi.index().digest(), s.metadata().getTag(RepoName.of("gcr.io/team/app"), "1")
                    .orElseThrow().digest().toString());
            assertEquals(single.manifest().digest(), s.metadata().getTag(RepoName.of("local/team/tool"), "2")
                    .orElseThrow().digest().toString());
            for (OciLayoutBuilder.Blob blob : Stream.concat(multi.blobs().stream(), single.blobs().stream()).toList()) {
                assertArrayEquals(blob.bytes(), Files.readAllBytes(s.blobs().stat(Digest.parse(blob.digest()))
                        .orElseThrow().path()), blob.digest());
            }
        }
    }

    @Test
    void aPlatformExportHoldsThatPlatformsManifestAndBlobsOnly() throws IOException {
        Path a = tmp.resolve("site-a");
        importInto(a, layout, asNamed());
        Path bundle = tmp.resolve("arm.tar.gz");
        try (Storage s = Storage.open(a, clock)) {
            new Exporter(s, config.withDataDir(a), clock).run(List.of(ImageName.parse(APP)),
                    Platform.parse("linux/arm64"), bundle, step -> Progress.none());
        }
        Map<String, byte[]> files = Bundles.read(bundle);
        OciLayoutBuilder.Image arm = multi.byPlatform().get("linux/arm64");
        Set<String> expected = arm.blobs().stream().map(bl -> "blobs/sha256/" + bl.digest().substring(7))
                .collect(Collectors.toSet());
        assertEquals(expected, files.keySet().stream().filter(n -> n.startsWith("blobs/")).collect(Collectors.toSet()));
        JsonNode top = JSON.readTree(files.get("index.json")).path("manifests");
        assertEquals(1, top.size());
        assertEquals(arm.manifest().digest(), top.get(0).path("digest").asText());
        assertEquals("arm64", top.get(0).path("platform").path("architecture").asText());

        BundleException none = assertThrows(BundleException.class, () -> {
            try (Storage s = Storage.open(a, clock)) {
                new Exporter(s, config.withDataDir(a), clock).run(List.of(ImageName.parse(APP)),
                        Platform.parse("linux/s390x"), tmp.resolve("x.tar"), step -> Progress.none());
            }
        });
        assertTrue(none.getMessage().contains("has no linux/s390x image; it has [linux/amd64, linux/arm64]"),
                none.getMessage());
    }

    @Test
    void exportingWhatIsNotStoredSaysWhatToDo() throws IOException {
        Path a = tmp.resolve("site-a");
        importInto(a, layout, asNamed());
        try (Storage s = Storage.open(a, clock)) {
            // A pull-through cache holds only the platforms nodes asked for: drop one to see.
            s.metadata().deleteManifest(RepoName.of("gcr.io/team/app"),
                    Digest.parse(multi.byPlatform().get("linux/arm64").manifest().digest()));
            Exporter exporter = new Exporter(s, config.withDataDir(a), clock);
            BundleException partial = assertThrows(BundleException.class, () -> exporter.run(
                    List.of(ImageName.parse(APP)), null, tmp.resolve("x.tar"), step -> Progress.none()));
            assertTrue(partial.getMessage().contains("pull all of it through the mirror first (ocimirror prefetch "
                    + APP + ")"), partial.getMessage());
            BundleException missing = assertThrows(BundleException.class, () -> exporter.run(
                    List.of(ImageName.parse("gcr.io/team/other:1")), null, tmp.resolve("x.tar"),
                    step -> Progress.none()));
            assertTrue(missing.getMessage().startsWith("gcr.io/team/other:1 is not in the cache of upstream 'gcr.io'"),
                    missing.getMessage());
        }
        assertFalse(Files.exists(tmp.resolve("x.tar")));
    }

    private static List<String> ingest(Path data) throws IOException {
        return list(data.resolve("ingest"));
    }

    private static List<String> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static Set<String> blobFiles(Path data) throws IOException {
        Path blobs = data.resolve("blobs");
        if (!Files.isDirectory(blobs)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.walk(blobs)) {
            return s.filter(Files::isRegularFile).map(Path::toString).collect(Collectors.toSet());
        }
    }
}
