package ocimirror.e2e;

import static ocimirror.e2e.TwoUpstreams.ALIAS_A;
import static ocimirror.e2e.TwoUpstreams.ALIAS_B;
import static ocimirror.e2e.TwoUpstreams.NAME_A;
import static ocimirror.testing.OciAssertions.assertLayoutHolds;
import static ocimirror.testing.OciAssertions.assertOciError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.testing.Containerd;
import ocimirror.testing.Containerd.MirrorLayout;
import ocimirror.testing.MirrorStack;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.OciLayoutBuilder.ImageIndex;
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

/**
 * Both upstreams go down after the mirror has cached some images: the cached ones still pull
 * (by tag too: A's tag TTL is zero, so each tag request tries to revalidate and falls back to
 * the stale copy), an uncached one fails fast with a clear error, and a mirror restarted on
 * the same data directory with the upstreams still down serves what it had.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class UpstreamOutageE2ETest {

    private static final String CACHED = "team/cached";
    private static final String UNCACHED = "team/uncached";
    /** What "fails fast" means: well under containerd's and skopeo's own patience. */
    private static final Duration FAST = Duration.ofSeconds(10);

    @TempDir
    static Path tmp;
    private static MirrorStack stack;
    private static TwoUpstreams upstreams;
    private static Image imageA;
    private static ImageIndex indexB;
    private static Image uncachedA;
    private static Containerd containerd;
    private final AtomicInteger namespaces = new AtomicInteger();

    @BeforeAll
    static void cacheSomeImagesThenStopTheUpstreams() throws Exception {
        if (!Programs.present(TwoUpstreams.PROGRAMS) && !Programs.inCi()) {
            return; // each test skips in requirePrograms()
        }
        upstreams = TwoUpstreams.start(tmp.resolve("upstreams"));
        stack = MirrorStack.over(upstreams);
        Path layout = Files.createDirectories(tmp.resolve("layout"));
        OciLayoutBuilder b = new OciLayoutBuilder(layout, 11);
        imageA = b.image("linux", "amd64", List.of(b.randomLayer("a1.bin", 1024), b.randomLayer("a2.bin", 512 * 1024)));
        b.tag("a", imageA.manifest());
        indexB = b.index(List.of(b.image("linux", "amd64", List.of(b.randomLayer("b-amd.bin", 4096))),
                b.image("linux", "arm64", List.of(b.randomLayer("b-arm.bin", 8192)))));
        b.tag("b", indexB.index());
        uncachedA = b.image("linux", "amd64", List.of(b.randomLayer("never.bin", 2048)));
        b.tag("uncached", uncachedA.manifest());
        b.finish();
        upstreams.pushToA(layout, "a", CACHED + ":v1", false);
        upstreams.pushToA(layout, "uncached", UNCACHED + ":v1", false);
        upstreams.pushToB(layout, "b", CACHED + ":v1", true);

        stack.start(upstreams.mirrorConfig(tmp.resolve("mirror-data"), NAME_A, Duration.ZERO), tmp);
        containerd = stack.containerd();
        // Warm the cache with the clients that pull again later, so each one's Accept is seen.
        copyOut(imageASkopeoRef(), "warm-a", false);
        copyOut(Skopeo.docker(hostPort(), ALIAS_B + "/" + CACHED, "v1"), "warm-b", true);
        if (containerd != null) {
            containerd.pullWithHosts(hostsDir(MirrorLayout.NAMESPACE), "warm-a", ALIAS_A + "/" + CACHED + ":v1")
                    .requireSuccess();
            containerd.pullWithHosts(hostsDir(MirrorLayout.OVERRIDE_PATH), "warm-b", ALIAS_B + "/" + CACHED + ":v1",
                    "--all-platforms").requireSuccess();
        }
        upstreams.stopBoth();
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

    @Test
    void cachedImagesStillPullWithBothUpstreamsDown() throws Exception {
        assertCachedImagesPull("outage");
    }

    @Test
    void anUncachedImageFailsFastWithAClearError() {
        RegistryClient client = new RegistryClient(hostPort());
        long t0 = System.nanoTime();
        HttpResponse<byte[]> r = client.send(client.request("/v2/" + ALIAS_A + "/" + UNCACHED + "/manifests/v1")
                .header("Accept", OciLayoutBuilder.OCI_MANIFEST).GET().build());
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertTrue(took.compareTo(FAST) < 0, () -> "took " + took + ": " + RegistryClient.describe(r));
        assertOciError(r, Set.of(502, 503, 504), null);
        String body = OciLayoutBuilder.utf8(r.body());
        assertTrue(body.contains(NAME_A) || body.contains(ALIAS_A) || body.contains(upstreams.a.hostPort()),
                () -> "the error should say which upstream failed: " + RegistryClient.describe(r));

        HttpResponse<byte[]> blob = client.get("/v2/" + ALIAS_A + "/" + UNCACHED + "/blobs/"
                + uncachedA.layers().get(0).blob().digest());
        assertOciError(blob, Set.of(502, 503, 504), null);

        long s0 = System.nanoTime();
        Processes.Result skopeo = upstreams.skopeo.run(List.of("inspect", "--tls-verify=false", "--raw",
                Skopeo.docker(hostPort(), ALIAS_A + "/" + UNCACHED, "v1")));
        Duration skopeoTook = Duration.ofNanos(System.nanoTime() - s0);
        assertNotEquals(0, skopeo.exitCode(), "skopeo inspect of an uncached image with the upstream down");
        assertTrue(skopeoTook.compareTo(FAST) < 0, () -> "skopeo took " + skopeoTook + ":\n" + skopeo.stderr());
    }

    /** Close the mirror and start it again on the same data directory; the upstreams stay down. */
    @Test
    void aRestartedMirrorServesWhatItCachedWithTheUpstreamsDown() throws Exception {
        stack.restartMirror();
        assertCachedImagesPull("restart");
    }

    private void assertCachedImagesPull(String label) throws Exception {
        String ref = imageASkopeoRef();
        assertArrayEquals(imageA.manifest().bytes(), upstreams.skopeo.inspectRaw(ref), "A's manifest by tag");
        assertLayoutHolds(copyOut(ref, label + "-a", false), imageA.manifest().digest(), imageA.blobs());
        Path outB = copyOut(Skopeo.docker(hostPort(), ALIAS_B + "/" + CACHED, "v1"), label + "-b", true);
        assertLayoutHolds(outB, indexB.index().digest(), indexB.blobs());

        // The containerd half: skipped visibly (failed in CI) where containerd cannot run.
        Programs.requireRoot("containerd");
        Programs.require("containerd");
        Programs.require("ctr");
        String refA = ALIAS_A + "/" + CACHED + ":v1";
        String ns = freshNamespace();
        Processes.Result pull = containerd.pullWithHosts(hostsDir(MirrorLayout.NAMESPACE), ns, refA);
        assertEquals(0, pull.exitCode(), pull::stderr);
        assertEquals(Optional.of(imageA.manifest().digest()), containerd.imageTarget(ns, refA));
        assertEquals(List.of(), containerd.missingContent(ns, imageA));

        String refB = ALIAS_B + "/" + CACHED + ":v1";
        String nsB = freshNamespace();
        Processes.Result pullB = containerd.pullWithHosts(hostsDir(MirrorLayout.OVERRIDE_PATH), nsB, refB,
                "--platform", "linux/arm64");
        assertEquals(0, pullB.exitCode(), pullB::stderr);
        assertEquals(Optional.of(indexB.index().digest()), containerd.imageTarget(nsB, refB));
        assertEquals(List.of(), containerd.missingContent(nsB, indexB.byPlatform().get("linux/arm64")));
    }

    private static String hostPort() {
        return stack.hostPort();
    }

    /** A by path prefix: skopeo's Accept, A's tag revalidated on every request (TTL zero). */
    private static String imageASkopeoRef() {
        return Skopeo.docker(hostPort(), ALIAS_A + "/" + CACHED, "v1");
    }

    private static Path copyOut(String ref, String name, boolean all) {
        Path out = tmp.resolve("out-" + name);
        if (all) {
            upstreams.skopeo.copyAll(ref, Skopeo.oci(out, "v1"));
        } else {
            upstreams.skopeo.copy(ref, Skopeo.oci(out, "v1"));
        }
        return out;
    }

    /** hosts.toml pointing both aliases at the current mirror (its port changes on restart). */
    private static Path hostsDir(MirrorLayout layout) throws Exception {
        Path dir = tmp.resolve("hosts-" + layout + "-" + stack.mirror().localAddress().getPort());
        for (String alias : List.of(ALIAS_A, ALIAS_B)) {
            Containerd.writeHostsToml(dir, alias, "http://" + hostPort(), layout, alias, null);
        }
        return dir;
    }

    private String freshNamespace() {
        return "outage-" + namespaces.incrementAndGet() + "-" + Long.toHexString(System.nanoTime());
    }
}
