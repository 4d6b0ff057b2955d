package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.testing.Containerd;
import ocimirror.testing.OciLayoutBuilder.Fixture;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real containerd pulls from the registry under test, as a node would: it resolves the
 * tag to the digest that was pushed, fetches every blob it needs (verifying each digest)
 * and unpacks the layers, checking the uncompressed tars against the config's diff_ids.
 * Each pull uses a fresh namespace, whose content store starts empty.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ContainerdPullE2ETest {

    // Works without overlayfs (this runs inside containers too) and still unpacks every layer.
    private static final String SNAPSHOTTER = "native";

    @TempDir
    static Path tmp;
    private static Fixture fixture;
    private static TargetRegistry registry;
    private static Containerd containerd;
    private final AtomicInteger namespaces = new AtomicInteger();

    @BeforeAll
    static void startEverything() throws Exception {
        if (!(Programs.present("containerd", "ctr") && Programs.isRoot()) && !Programs.inCi()) {
            return; // each test skips in requireContainerd()
        }
        containerd = Containerd.start(tmp.resolve("containerd"), SNAPSHOTTER);
        fixture = OciLayoutBuilder.standard(Files.createDirectories(tmp.resolve("layout")));
        registry = TargetRegistry.start(tmp.resolve("registry"));
        RegistryClient client = new RegistryClient(registry.hostPort());
        client.pushImage("e2e/ctr/single", "v1", fixture.single());
        client.pushIndex("e2e/ctr/multi", "v1", fixture.multi());
    }

    @AfterAll
    static void stopEverything() {
        try {
            if (containerd != null) {
                containerd.close();
            }
        } finally {
            if (registry != null) {
                registry.close();
            }
        }
    }

    @BeforeEach
    void requireContainerd() {
        Programs.requireRoot("containerd");
        Programs.require("containerd");
        Programs.require("ctr");
    }

    @Test
    void pullsAndUnpacksASinglePlatformImageByTag() {
        Image image = fixture.single();
        String ref = registry.hostPort() + "/e2e/ctr/single:v1";
        String ns = freshNamespace();
        String out = containerd.pull(ns, ref, "--print-chainid").stdout();

        assertEquals(Optional.of(image.manifest().digest()), containerd.imageTarget(ns, ref));
        assertContentHolds(ns, image);
        // containerd computes the chain ID from the tars it unpacked and checks them against
        // diff_ids, so a matching chain ID proves every layer arrived intact.
        assertTrue(out.contains("image chain ID: " + image.chainId()), () -> "ctr output:\n" + out);
    }

    @Test
    void pullsASinglePlatformImageByDigest() {
        Image image = fixture.single();
        String ref = registry.hostPort() + "/e2e/ctr/single@" + image.manifest().digest();
        String ns = freshNamespace();
        containerd.pull(ns, ref);

        assertEquals(Optional.of(image.manifest().digest()), containerd.imageTarget(ns, ref));
        assertContentHolds(ns, image);
    }

    @Test
    void pullsOnlyTheRequestedPlatformOfAnIndex() {
        Image arm = fixture.multi().byPlatform().get("linux/arm64");
        Image amd = fixture.multi().byPlatform().get("linux/amd64");
        String ref = registry.hostPort() + "/e2e/ctr/multi:v1";
        String ns = freshNamespace();
        String out = containerd.pull(ns, ref, "--platform", "linux/arm64", "--print-chainid").stdout();

        assertEquals(Optional.of(fixture.multi().index().digest()), containerd.imageTarget(ns, ref));
        assertContentHolds(ns, arm);
        Set<String> content = containerd.contentDigests(ns);
        assertFalse(content.contains(amd.layers().get(0).blob().digest()),
                "amd64 layer fetched although only linux/arm64 was asked for");
        assertTrue(out.contains("image chain ID: " + arm.chainId()), () -> "ctr output:\n" + out);
    }

    @Test
    void pullsEveryPlatformOfAnIndex() {
        String ref = registry.hostPort() + "/e2e/ctr/multi:v1";
        String ns = freshNamespace();
        containerd.pull(ns, ref, "--all-platforms");

        assertEquals(Optional.of(fixture.multi().index().digest()), containerd.imageTarget(ns, ref));
        assertTrue(containerd.contentDigests(ns).contains(fixture.multi().index().digest()));
        for (Image image : fixture.multi().byPlatform().values()) {
            assertContentHolds(ns, image);
        }
    }

    private String freshNamespace() {
        return "e2e-" + namespaces.incrementAndGet() + "-" + Long.toHexString(System.nanoTime());
    }

    private static void assertContentHolds(String ns, Image image) {
        List<String> missing = containerd.missingContent(ns, image);
        assertTrue(missing.isEmpty(), () -> "containerd content store lacks " + missing + " of " + image.platform());
    }
}
