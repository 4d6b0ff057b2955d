package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.MirrorServer;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * tags/list and referrers of proxied repositories come from the upstream: docker-registry 2.8
 * (tags never pulled through the mirror, listed by skopeo and paged by plain HTTP; no referrers
 * API, so the referrers tag) and ocimirror itself as an upstream with the OCI 1.1 referrers API
 * (an image and a signature whose {@code subject} is the image). With both upstreams stopped, the
 * last answers are still served, and so is the signature pulled through by digest.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UpstreamListingsE2ETest {
    private static final String REPO = "team/app";
    private static final List<String> TAGS = List.of("1.0", "1.1", "2.0", "latest", "old");
    private static final String SIG_TYPE = "application/vnd.example.signature.v1";
    private static final String DIST = "dist.test";
    private static final String OM = "om.test";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LINK = Pattern.compile("<([^>]+)>;\\s*rel=\"next\"");

    @TempDir
    static Path tmp;
    private static DockerRegistry dist;
    private static OcimirrorRegistry om;
    private static MirrorServer mirror;
    private static RegistryClient client;
    private static Skopeo skopeo;
    private static OciLayoutBuilder.Image image;
    private static Signature signature;

    /** An artifact manifest whose subject is the image, and its layer. */
    private record Signature(byte[] manifest, String digest, byte[] layer, String layerDigest) {
    }

    @BeforeAll
    static void start() throws Exception {
        if (!Programs.present(new String[] {"docker-registry", "skopeo"}) && !Programs.inCi()) {
            return; // each test skips in requirePrograms()
        }
        dist = DockerRegistry.start(tmp.resolve("dist"));
        om = OcimirrorRegistry.start(tmp.resolve("om"));
        OciLayoutBuilder b = new OciLayoutBuilder(Files.createDirectories(tmp.resolve("layout")), 16);
        image = b.image("linux", "amd64", List.of(b.randomLayer("l.bin", 2048)));
        b.tag("v", image.manifest());
        b.finish();
        signature = signature(image);
        RegistryClient toDist = new RegistryClient(dist.hostPort());
        RegistryClient toOm = new RegistryClient(om.hostPort());
        for (String tag : TAGS) {
            toDist.pushImage(REPO, tag, image);
        }
        toOm.pushImage(REPO, "1.0", image);
        for (RegistryClient to : List.of(toDist, toOm)) {
            to.pushBlob(REPO, "{}".getBytes(StandardCharsets.UTF_8), OciLayoutBuilder.sha256Digest(
                    "{}".getBytes(StandardCharsets.UTF_8)));
            to.pushBlob(REPO, signature.layer(), signature.layerDigest());
            HttpResponse<byte[]> put = to.putManifest(REPO, signature.digest(), OciLayoutBuilder.OCI_MANIFEST,
                    signature.manifest());
            assertEquals(201, put.statusCode(), () -> RegistryClient.describe(put));
        }
        // distribution 2.8 has no referrers API: the signer keeps the referrers tag (the spec's fallback).
        byte[] tagIndex = ("{\"schemaVersion\":2,\"mediaType\":\"" + OciLayoutBuilder.OCI_INDEX + "\",\"manifests\":["
                + "{\"mediaType\":\"" + OciLayoutBuilder.OCI_MANIFEST + "\",\"digest\":\"" + signature.digest()
                + "\",\"size\":" + signature.manifest().length + ",\"artifactType\":\"" + SIG_TYPE + "\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        HttpResponse<byte[]> put = toDist.putManifest(REPO, referrersTag(image.manifest().digest()),
                OciLayoutBuilder.OCI_INDEX, tagIndex);
        assertEquals(201, put.statusCode(), () -> RegistryClient.describe(put));

        // Tag TTL zero: every listing asks the upstream, so a stopped upstream is noticed at once.
        UpstreamConfig upDist = UpstreamConfig.builder("dist", dist.url()).aliases(DIST).plainHttp(true)
                .tagTtl(Duration.ZERO).maxRetries(0).build();
        UpstreamConfig upOm = UpstreamConfig.builder("om", "http://" + om.hostPort()).aliases(OM).plainHttp(true)
                .tagTtl(Duration.ZERO).maxRetries(0).build();
        mirror = MirrorServer.start(MirrorConfig.defaults()
                .withTls(TlsConfig.off())
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(Files.createDirectories(tmp.resolve("mirror")))
                .withRouting(List.of(upDist, upOm), List.of("local")));
        client = new RegistryClient("127.0.0.1:" + mirror.localAddress().getPort());
        skopeo = new Skopeo(tmp.resolve("skopeo"));
    }

    @AfterAll
    static void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {mirror, om, dist}) {
            if (c != null) {
                c.close();
            }
        }
    }

    @BeforeEach
    void requirePrograms() {
        Programs.requireAll("docker-registry", "skopeo");
    }

    @Test
    @Order(1)
    void skopeoListsTagsNeverPulledThroughTheMirror() throws Exception {
        String mirrorHost = "127.0.0.1:" + mirror.localAddress().getPort();
        var r = skopeo.run(List.of("list-tags", "--tls-verify=false",
                        "docker://" + mirrorHost + "/" + DIST + "/" + REPO))
                .requireSuccess();
        JsonNode out = JSON.readTree(r.stdout());
        List<String> tags = new ArrayList<>();
        out.get("Tags").forEach(t -> tags.add(t.asText()));
        tags.remove(referrersTag(image.manifest().digest()));
        assertEquals(TAGS, tags);
    }

    @Test
    @Order(2)
    void pagesAreSortedAndLinkToTheMirrorsOwnPath() throws Exception {
        // distribution 2.8 ignores n and last: the mirror pages, in lexical order.
        List<String> all = new ArrayList<>();
        String next = "/v2/" + DIST + "/" + REPO + "/tags/list?n=2";
        int pages = 0;
        while (next != null) {
            HttpResponse<byte[]> r = client.get(next);
            assertEquals(200, r.statusCode(), () -> RegistryClient.describe(r));
            JsonNode body = JSON.readTree(r.body());
            assertEquals(DIST + "/" + REPO, body.get("name").asText(), "the name the client used");
            assertTrue(body.get("tags").size() <= 2);
            body.get("tags").forEach(t -> all.add(t.asText()));
            String link = r.headers().firstValue("Link").orElse(null);
            if (link != null) {
                Matcher m = LINK.matcher(link);
                assertTrue(m.find(), link);
                next = m.group(1);
                assertTrue(next.startsWith("/v2/" + DIST + "/" + REPO + "/tags/list?n=2&last="), next);
            } else {
                next = null;
            }
            pages++;
        }
        List<String> expected = new ArrayList<>(TAGS);
        expected.add(referrersTag(image.manifest().digest()));
        expected.sort(null);
        assertEquals(expected, all);
        assertEquals(3, pages);

        // With ns (containerd's way): the next page keeps it, so that it reaches the same upstream.
        HttpResponse<byte[]> r = client.get("/v2/" + REPO + "/tags/list?n=1&ns=" + DIST);
        assertEquals(200, r.statusCode(), () -> RegistryClient.describe(r));
        String link = r.headers().firstValue("Link").orElseThrow();
        assertTrue(link.contains("/v2/" + REPO + "/tags/list?n=1&last=1.0&ns=" + DIST), link);
    }

    @Test
    @Order(3)
    void referrersComeFromAnUpstreamWithTheReferrersApi() throws Exception {
        String path = "/v2/" + OM + "/" + REPO + "/referrers/" + image.manifest().digest();
        JsonNode index = referrers(path, null);
        assertEquals(List.of(signature.digest()), digests(index));
        assertEquals(SIG_TYPE, index.get("manifests").get(0).get("artifactType").asText());
        HttpResponse<byte[]> filtered = client.get(path + "?artifactType=application/other");
        assertEquals("artifactType", filtered.headers().firstValue("OCI-Filters-Applied").orElse(null));
        assertEquals(List.of(), digests(JSON.readTree(filtered.body())));
        pullSignature(OM);
    }

    @Test
    @Order(4)
    void referrersOfAnUpstreamWithoutTheApiComeFromTheReferrersTag() throws Exception {
        assertEquals(404, new RegistryClient(dist.hostPort())
                .get("/v2/" + REPO + "/referrers/" + image.manifest().digest()).statusCode(), "distribution 2.8");
        JsonNode index = referrers("/v2/" + DIST + "/" + REPO + "/referrers/" + image.manifest().digest(), null);
        assertEquals(List.of(signature.digest()), digests(index));
        JsonNode sigs = referrers("/v2/" + DIST + "/" + REPO + "/referrers/" + image.manifest().digest(), SIG_TYPE);
        assertEquals(List.of(signature.digest()), digests(sigs));
        pullSignature(DIST);
    }

    @Test
    @Order(5)
    void withTheUpstreamsStoppedTheLastAnswersAndTheSignatureAreServed() throws Exception {
        dist.stop();
        om.close();
        HttpResponse<byte[]> tags = client.get("/v2/" + DIST + "/" + REPO + "/tags/list");
        assertEquals(200, tags.statusCode(), () -> RegistryClient.describe(tags));
        List<String> listed = new ArrayList<>();
        JSON.readTree(tags.body()).get("tags").forEach(t -> listed.add(t.asText()));
        assertTrue(listed.containsAll(TAGS), listed::toString);
        for (String alias : List.of(OM, DIST)) {
            // The cosign / notation flow: the referrers, then the signature by digest.
            JsonNode index = referrers("/v2/" + alias + "/" + REPO + "/referrers/" + image.manifest().digest(), null);
            assertEquals(List.of(signature.digest()), digests(index), alias);
            pullSignature(alias);
        }
    }

    private static JsonNode referrers(String path, String artifactType) throws Exception {
        HttpResponse<byte[]> r = client.get(path + (artifactType == null ? "" : "?artifactType=" + artifactType));
        assertEquals(200, r.statusCode(), () -> RegistryClient.describe(r));
        assertEquals(OciLayoutBuilder.OCI_INDEX, r.headers().firstValue("Content-Type").orElse(null));
        if (artifactType != null) {
            assertEquals("artifactType", r.headers().firstValue("OCI-Filters-Applied").orElse(null));
        }
        return JSON.readTree(r.body());
    }

    private static void pullSignature(String alias) {
        HttpResponse<byte[]> m = client.send(client.request("/v2/" + alias + "/" + REPO + "/manifests/"
                + signature.digest()).header("Accept", OciLayoutBuilder.OCI_MANIFEST).GET().build());
        assertEquals(200, m.statusCode(), () -> RegistryClient.describe(m));
        assertArrayEquals(signature.manifest(), m.body());
        HttpResponse<byte[]> l = client.get("/v2/" + alias + "/" + REPO + "/blobs/" + signature.layerDigest());
        assertEquals(200, l.statusCode(), () -> RegistryClient.describe(l));
        assertArrayEquals(signature.layer(), l.body());
    }

    private static List<String> digests(JsonNode index) {
        List<String> out = new ArrayList<>();
        index.get("manifests").forEach(d -> out.add(d.get("digest").asText()));
        return out;
    }

    private static Signature signature(OciLayoutBuilder.Image subject) {
        byte[] layer = "a signature".getBytes(StandardCharsets.UTF_8);
        String layerDigest = OciLayoutBuilder.sha256Digest(layer);
        String empty = OciLayoutBuilder.sha256Digest("{}".getBytes(StandardCharsets.UTF_8));
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + OciLayoutBuilder.OCI_MANIFEST + "\","
                + "\"artifactType\":\"" + SIG_TYPE + "\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"" + empty
                + "\",\"size\":2},"
                + "\"layers\":[{\"mediaType\":\"application/octet-stream\",\"digest\":\"" + layerDigest + "\",\"size\":"
                + layer.length + "}],"
                + "\"subject\":{\"mediaType\":\"" + OciLayoutBuilder.OCI_MANIFEST + "\",\"digest\":\""
                + subject.manifest().digest() + "\",\"size\":" + subject.manifest().size() + "}}")
                .getBytes(StandardCharsets.UTF_8);
        return new Signature(manifest, OciLayoutBuilder.sha256Digest(manifest), layer, layerDigest);
    }

    private static String referrersTag(String digest) {
        return digest.replace(':', '-');
    }
}
