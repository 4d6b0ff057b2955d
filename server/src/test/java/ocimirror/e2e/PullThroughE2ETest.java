package ocimirror.e2e;

import static ocimirror.e2e.TwoUpstreams.ALIAS_A;
import static ocimirror.e2e.TwoUpstreams.ALIAS_B;
import static ocimirror.e2e.TwoUpstreams.NAME_A;
import static ocimirror.e2e.TwoUpstreams.NAME_B;
import static ocimirror.testing.OciAssertions.assertLayoutHolds;
import static ocimirror.testing.OciAssertions.assertOciError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import java.util.stream.Stream;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.MirrorServer;
import ocimirror.testing.Containerd;
import ocimirror.testing.Containerd.MirrorLayout;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.MirrorStack;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.OciLayoutBuilder.Blob;
import ocimirror.testing.OciLayoutBuilder.Fixture;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.OciLayoutBuilder.ImageIndex;
import ocimirror.testing.ParallelGets;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The mirror in front of two real upstreams ({@link TwoUpstreams}: A with TLS from its own CA
 * and htpasswd, B anonymous plain HTTP), pulled through by the real clients: containerd with
 * a {@code hosts.toml} in both layouts, skopeo by path prefix and by default upstream. Every
 * image comes back with the digests that were pushed. Also: one upstream GET for sixteen
 * concurrent requests of one cold layer, no poisoned cache from a corrupt upstream blob, and
 * the routing refusals. The outage and restart cases are in {@link UpstreamOutageE2ETest}.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PullThroughE2ETest {

    private static final String APP = "team/app";
    private static final String MULTI = "team/multi";
    private static final String CONCURRENT = "team/concurrent";
    private static final String CORRUPT = "team/corrupt";

    @TempDir
    static Path tmp;
    private static MirrorStack stack;
    private static TwoUpstreams upstreams;
    private static Fixture fixtureA;
    private static Fixture fixtureB;
    private static Image concurrentImage;
    private static Image corruptImage;
    private static String mirrorHostPort;
    private static RegistryClient client;
    private static Containerd containerd;
    private final AtomicInteger namespaces = new AtomicInteger();

    @BeforeAll
    static void startUpstreamsAndMirror() throws Exception {
        if (!Programs.present(TwoUpstreams.PROGRAMS) && !Programs.inCi()) {
            return; // each test skips in requirePrograms()
        }
        upstreams = TwoUpstreams.start(tmp.resolve("upstreams"));
        stack = MirrorStack.over(upstreams);
        // A and B hold different bytes under the same names, so a pull proves which one served it.
        fixtureA = OciLayoutBuilder.standard(Files.createDirectories(tmp.resolve("layout-a")), 1);
        fixtureB = OciLayoutBuilder.standard(Files.createDirectories(tmp.resolve("layout-b")), 2);
        Path extra = Files.createDirectories(tmp.resolve("layout-extra"));
        OciLayoutBuilder b = new OciLayoutBuilder(extra, 3);
        concurrentImage = b.image("linux", "amd64", List.of(b.randomLayer("concurrent.bin", 40 * 1024 * 1024)));
        b.tag("concurrent", concurrentImage.manifest());
        corruptImage = b.image("linux", "amd64", List.of(b.randomLayer("corrupt.bin", 1024 * 1024)));
        b.tag("corrupt", corruptImage.manifest());
        b.finish();

        upstreams.pushToA(fixtureA.dir(), Fixture.SINGLE_REF, APP + ":v1", false);
        upstreams.pushToA(fixtureA.dir(), Fixture.MULTI_REF, MULTI + ":v1", true);
        upstreams.pushToA(extra, "concurrent", CONCURRENT + ":v1", false);
        upstreams.pushToB(fixtureB.dir(), Fixture.SINGLE_REF, APP + ":v1", false);
        upstreams.pushToB(fixtureB.dir(), Fixture.MULTI_REF, MULTI + ":v1", true);
        upstreams.pushToB(extra, "corrupt", CORRUPT + ":v1", false);

        stack.start(upstreams.mirrorConfig(tmp.resolve("mirror-data"), NAME_A, UpstreamConfig.DEFAULT_TAG_TTL), tmp);
        mirrorHostPort = stack.hostPort();
        containerd = stack.containerd();
        client = new RegistryClient(mirrorHostPort);
    }

    @AfterAll
    static void stopEverything() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @BeforeEach
    void requirePrograms() {
        TwoUpstreams.requirePrograms();
    }

    private static Fixture fixture(String alias) {
        return alias.equals(ALIAS_A) ? fixtureA : fixtureB;
    }

    private static DockerRegistry upstream(String alias) {
        return alias.equals(ALIAS_A) ? upstreams.a : upstreams.b;
    }

    // --- containerd, as a node with a registry mirror ---

    /** Only the mirror can have served it: the alias in the image name does not resolve. */
    @ParameterizedTest(name = "{0} via {1}")
    @CsvSource({ALIAS_A + ",NAMESPACE", ALIAS_A + ",OVERRIDE_PATH", ALIAS_B + ",NAMESPACE", ALIAS_B + ",OVERRIDE_PATH"})
    void containerdPullsASinglePlatformImageThroughTheMirror(String alias, MirrorLayout layout) throws Exception {
        requireContainerd();
        Image image = fixture(alias).single();
        Path hosts = hostsDir(alias, layout);
        String ref = alias + "/" + APP + ":v1";
        String ns = freshNamespace();
        Processes.Result pull = containerd.pullWithHosts(hosts, ns, ref, "--print-chainid");

        assertEquals(0, pull.exitCode(), () -> "ctr pull " + ref + " (" + layout + ") failed:\n" + pull.stderr()
                + "\nhosts.toml:\n" + hostsToml(hosts, alias));
        assertEquals(Optional.of(image.manifest().digest()), containerd.imageTarget(ns, ref), "image target digest");
        assertEquals(List.of(), containerd.missingContent(ns, image), "blobs missing from containerd's store");
        assertTrue(pull.stdout().contains("image chain ID: " + image.chainId()), () -> "ctr output:\n" + pull.stdout());
    }

    @ParameterizedTest(name = "{0} via {1}")
    @CsvSource({ALIAS_A + ",NAMESPACE", ALIAS_A + ",OVERRIDE_PATH", ALIAS_B + ",NAMESPACE", ALIAS_B + ",OVERRIDE_PATH"})
    void containerdPullsOnlyTheRequestedPlatformOfAnIndex(String alias, MirrorLayout layout) throws Exception {
        requireContainerd();
        ImageIndex multi = fixture(alias).multi();
        Image arm = multi.byPlatform().get("linux/arm64");
        Image amd = multi.byPlatform().get("linux/amd64");
        Path hosts = hostsDir(alias, layout);
        String ref = alias + "/" + MULTI + ":v1";
        String ns = freshNamespace();
        Processes.Result pull = containerd.pullWithHosts(hosts, ns, ref, "--platform", "linux/arm64",
                "--print-chainid");

        assertEquals(0, pull.exitCode(), () -> "ctr pull " + ref + " (" + layout + ") failed:\n" + pull.stderr());
        assertEquals(Optional.of(multi.index().digest()), containerd.imageTarget(ns, ref), "index digest");
        assertEquals(List.of(), containerd.missingContent(ns, arm), "arm64 blobs missing");
        assertFalse(containerd.contentDigests(ns).contains(amd.layers().get(0).blob().digest()),
                "amd64 layer fetched although only linux/arm64 was asked for");
        assertTrue(pull.stdout().contains("image chain ID: " + arm.chainId()), () -> "ctr output:\n" + pull.stdout());
    }

    // --- skopeo, with image names on the mirror itself ---

    @ParameterizedTest
    @ValueSource(strings = {ALIAS_A, ALIAS_B})
    void skopeoPullsByPathPrefix(String alias) throws Exception {
        Fixture fixture = fixture(alias);
        Skopeo skopeo = upstreams.skopeo;
        String single = Skopeo.docker(mirrorHostPort, alias + "/" + APP, "v1");
        assertArrayEquals(fixture.single().manifest().bytes(), skopeo.inspectRaw(single), "manifest bytes");
        Path out = tmp.resolve("prefix-single-" + alias);
        skopeo.copy(single, Skopeo.oci(out, "v1"));
        assertLayoutHolds(out, fixture.single().manifest().digest(), fixture.single().blobs());

        String multi = Skopeo.docker(mirrorHostPort, alias + "/" + MULTI, "v1");
        Path outMulti = tmp.resolve("prefix-multi-" + alias);
        skopeo.copyAll(multi, Skopeo.oci(outMulti, "v1"));
        assertLayoutHolds(outMulti, fixture.multi().index().digest(), fixture.multi().blobs());
    }

    /** A Docker daemon's {@code registry-mirrors} and plain names on the mirror go to the default upstream. */
    @Test
    void skopeoPullsFromTheDefaultUpstreamWithoutAPrefix() throws Exception {
        Skopeo skopeo = upstreams.skopeo;
        String single = Skopeo.docker(mirrorHostPort, APP, "v1");
        assertArrayEquals(fixtureA.single().manifest().bytes(), skopeo.inspectRaw(single), "A is the default");
        Path out = tmp.resolve("default-single");
        skopeo.copy(single, Skopeo.oci(out, "v1"));
        assertLayoutHolds(out, fixtureA.single().manifest().digest(), fixtureA.single().blobs());
    }

    /**
     * Podman and CRI-O read containers-registries.conf(5), as skopeo does: a
     * {@code [[registry.mirror]]} whose location is the mirror plus the alias as a path prefix.
     * {@code insecure = true} is what allows plain HTTP to the mirror; no TLS flag is passed.
     */
    @Test
    void aRegistriesConfMirrorAsPodmanAndCriOUseIt() throws Exception {
        Path conf = Files.writeString(tmp.resolve("registries-mirror.conf"), String.join("\n",
                "[[registry]]",
                "prefix = \"" + ALIAS_B + "\"",
                "location = \"" + ALIAS_B + "\"",
                "",
                "[[registry.mirror]]",
                "location = \"" + mirrorHostPort + "/" + ALIAS_B + "\"",
                "insecure = true",
                ""));
        Path out = tmp.resolve("registries-conf-multi");
        Processes.Result copy = upstreams.skopeo.run(conf, List.of("copy", "--all",
                "docker://" + ALIAS_B + "/" + MULTI + ":v1", Skopeo.oci(out, "v1")));
        assertEquals(0, copy.exitCode(), copy::stderr);
        assertLayoutHolds(out, fixtureB.multi().index().digest(), fixtureB.multi().blobs());
    }

    /** Either upstream can be the default: B (anonymous, plain HTTP) on a second mirror. */
    @Test
    void theDefaultUpstreamIsConfigurable() throws Exception {
        try (MirrorServer second = MirrorServer.start(upstreams.mirrorConfig(tmp.resolve("mirror-b-default"),
                NAME_B, UpstreamConfig.DEFAULT_TAG_TTL))) {
            String hostPort = "127.0.0.1:" + second.localAddress().getPort();
            Path out = tmp.resolve("default-b-multi");
            upstreams.skopeo.copyAll(Skopeo.docker(hostPort, MULTI, "v1"), Skopeo.oci(out, "v1"));
            assertLayoutHolds(out, fixtureB.multi().index().digest(), fixtureB.multi().blobs());
        }
    }

    /** The bytes and digest header are the upstream's, and an {@code ns} request gets it echoed. */
    @Test
    void manifestBytesAndDigestAreTheUpstreamsAndNsIsEchoed() {
        Blob manifest = fixtureB.single().manifest();
        HttpResponse<byte[]> r = client.send(client.request("/v2/" + APP + "/manifests/v1?ns=" + ALIAS_B)
                .header("Accept", OciLayoutBuilder.OCI_MANIFEST).GET().build());
        assertEquals(200, r.statusCode(), () -> RegistryClient.describe(r));
        assertArrayEquals(manifest.bytes(), r.body());
        assertEquals(Optional.of(manifest.digest()), r.headers().firstValue("Docker-Content-Digest"));
        assertEquals(Optional.of(ALIAS_B), r.headers().firstValue("OCI-Namespace"));
    }

    // --- one download per blob ---

    /**
     * Sixteen clients, each on its own connection, ask for one cold 40 MiB layer at once:
     * every body hashes to the digest, and upstream A logged exactly one GET of it.
     */
    @Test
    void concurrentRequestsForAColdLayerCauseOneUpstreamGet() throws Exception {
        Blob layer = concurrentImage.layers().get(0).blob();
        String path = "/v2/" + ALIAS_A + "/" + CONCURRENT + "/blobs/" + layer.digest();
        assertEquals(0, upstreams.a.blobGets(CONCURRENT, layer.digest()), "the layer is cold");

        List<ParallelGets.Outcome> outcomes = ParallelGets.run(client.uri(path), 16, Duration.ofSeconds(90));

        for (ParallelGets.Outcome o : outcomes) {
            assertEquals(200, o.status(), () -> "client " + o.client() + ": " + o);
            assertEquals(layer.size(), o.bytes(), () -> "client " + o.client() + ": " + o);
            assertEquals(layer.digest(), o.digest(), () -> "client " + o.client() + ": " + o);
        }
        // distribution writes the access-log line when the response ends; give it a moment.
        long gets = awaitAtLeastOne(() -> upstreams.a.blobGets(CONCURRENT, layer.digest()));
        assertEquals(1, gets, () -> "upstream GETs of the layer; A's log:\n"
                + String.join("\n", upstreams.a.log().stream().filter(l -> l.contains(layer.digest())).toList()));
    }

    // --- integrity ---

    /**
     * A blob damaged in B's storage (same length, other bytes) before anyone pulled it: the
     * mirror answers with an error or cuts the connection, never a clean end of a wrong body,
     * and commits nothing. Once the file is restored, the next request succeeds.
     */
    @Test
    void aCorruptUpstreamBlobIsNeverServedWholeNorCached() throws Exception {
        Blob layer = corruptImage.layers().get(0).blob();
        Path file = upstreams.b.blobFile(layer.digest());
        byte[] good = Files.readAllBytes(file);
        byte[] bad = good.clone();
        for (int i = bad.length / 2; i < bad.length / 2 + 64; i++) {
            bad[i] ^= 0x5a;
        }
        String badDigest = OciLayoutBuilder.sha256Digest(bad);
        Files.write(file, bad);
        String path = "/v2/" + ALIAS_B + "/" + CORRUPT + "/blobs/" + layer.digest();
        try {
            ParallelGets.Outcome o = ParallelGets.run(client.uri(path), 1, Duration.ofSeconds(30)).get(0);
            boolean cleanWrongBody = o.status() == 200 && o.error() == null && o.bytes() == layer.size();
            assertFalse(cleanWrongBody, () -> "the corrupt body ended cleanly: " + o);
            assertTrue(o.status() != 200 || o.error() != null || o.bytes() < layer.size(), () -> "outcome " + o);
        } finally {
            Files.write(file, good);
        }
        assertFalse(holdsFileHashingTo(tmp.resolve("mirror-data"), bad.length, badDigest),
                "the mirror's data directory holds the corrupt bytes");
        long getsBefore = upstreams.b.blobGets(CORRUPT, layer.digest());

        ParallelGets.Outcome again = ParallelGets.run(client.uri(path), 1, Duration.ofSeconds(30)).get(0);
        assertEquals(200, again.status(), again::toString);
        assertEquals(layer.digest(), again.digest(), again::toString);
        assertTrue(awaitAtLeastOne(() -> upstreams.b.blobGets(CORRUPT, layer.digest()) - getsBefore) >= 1,
                "fetched from B again");
    }

    // --- routing refusals ---

    @Test
    void anNsThatMatchesNoUpstreamIsNameUnknownNamingTheAliases() {
        HttpResponse<byte[]> r = client.get("/v2/" + APP + "/manifests/v1?ns=registry-c.test");
        assertOciError(r, Set.of(404), Set.of("NAME_UNKNOWN"));
        assertNamesTheAliases(r);
    }

    @Test
    void anAliasPrefixThatMatchesNoUpstreamIsNameUnknownNamingTheAliases() {
        HttpResponse<byte[]> r = client.get("/v2/registry-c.test/" + APP + "/manifests/v1");
        assertOciError(r, Set.of(404), Set.of("NAME_UNKNOWN"));
        assertNamesTheAliases(r);
    }

    /** Pushes into a proxied repository are refused; the hosted namespace takes them. */
    @Test
    void aPushIntoAProxiedRepositoryIsRefused() {
        long postsBefore = upstreams.b.requests("POST", "/v2/" + APP + "/blobs/uploads/"); // the set-up's push
        HttpResponse<byte[]> upload = client.send(client.request("/v2/" + ALIAS_B + "/" + APP + "/blobs/uploads/")
                .POST(HttpRequest.BodyPublishers.noBody()).build());
        assertOciError(upload, Set.of(400, 401, 403, 404, 405), null);
        HttpResponse<byte[]> manifest = client.putManifest(ALIAS_B + "/" + APP, "pushed",
                OciLayoutBuilder.OCI_MANIFEST, fixtureB.single().manifest().bytes());
        assertOciError(manifest, Set.of(400, 401, 403, 404, 405), null);
        assertEquals(postsBefore, upstreams.b.requests("POST", "/v2/" + APP + "/blobs/uploads/"),
                "nothing pushed upstream");
        assertEquals(0, upstreams.b.requests("PUT", "/v2/" + APP + "/manifests/pushed"), "nothing pushed upstream");

        byte[] blob = "hosted".getBytes(StandardCharsets.UTF_8);
        client.pushBlob("local/e2e", blob, OciLayoutBuilder.sha256Digest(blob)); // asserts 201
    }

    // --- the harness itself ---

    /** containerd, hosts.toml and the --hosts-dir pull work against upstream B directly (plain HTTP, no mirror). */
    @Test
    void harnessContainerdPullsFromUpstreamBThroughAHostsToml() throws Exception {
        requireContainerd();
        Path hosts = tmp.resolve("hosts-direct-b");
        Containerd.writeHostsToml(hosts, ALIAS_B, "http://" + upstreams.b.hostPort(), MirrorLayout.NAMESPACE, null,
                null);
        String ref = ALIAS_B + "/" + MULTI + ":v1";
        String ns = freshNamespace();
        Processes.Result pull = containerd.pullWithHosts(hosts, ns, ref, "--platform", "linux/arm64");
        assertEquals(0, pull.exitCode(), pull::stderr);
        assertEquals(Optional.of(fixtureB.multi().index().digest()), containerd.imageTarget(ns, ref));
    }

    // --- helpers ---

    private static Path hostsDir(String alias, MirrorLayout layout) throws Exception {
        Path dir = tmp.resolve("hosts-" + layout.name().toLowerCase(Locale.ROOT));
        Containerd.writeHostsToml(dir, alias, "http://" + mirrorHostPort, layout, alias, null);
        return dir;
    }

    private static String hostsToml(Path hostsDir, String alias) {
        return Processes.read(hostsDir.resolve(alias).resolve("hosts.toml"));
    }

    private static void requireContainerd() {
        Programs.requireRoot("containerd");
        Programs.require("containerd");
        Programs.require("ctr");
    }

    private String freshNamespace() {
        return "pt-" + namespaces.incrementAndGet() + "-" + Long.toHexString(System.nanoTime());
    }

    private static void assertNamesTheAliases(HttpResponse<byte[]> r) {
        String body = OciLayoutBuilder.utf8(r.body());
        assertTrue(body.contains(ALIAS_A) && body.contains(ALIAS_B),
                () -> "the error should name the configured aliases: " + RegistryClient.describe(r));
    }

    /** Whether any file under {@code dataDir} of {@code size} bytes hashes to {@code digest}. */
    private static boolean holdsFileHashingTo(Path dataDir, long size, String digest) throws IOException {
        try (Stream<Path> files = Files.walk(dataDir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                if (Files.size(f) == size) {
                    try (InputStream in = Files.newInputStream(f)) {
                        if (OciLayoutBuilder.sha256Digest(in).equals(digest)) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    private static long awaitAtLeastOne(LongSupplier count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        long n = count.getAsLong();
        while (n < 1 && System.nanoTime() < deadline) {
            Thread.sleep(50);
            n = count.getAsLong();
        }
        Thread.sleep(200); // a second, wrong GET would be logged by now too
        return count.getAsLong();
    }
}
