package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import ocimirror.config.CacheConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.MirrorServer;
import ocimirror.testing.Containerd;
import ocimirror.testing.Containerd.MirrorLayout;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bounded cache under real pulls: a mirror limited to 60 MiB (high mark 54 MiB, low 48 MiB) in
 * front of a docker-registry holding four images of about 22 MiB each and a small pinned one.
 * containerd pulls the four one after another, then all at once, while eviction runs: no pull
 * fails, every image arrives whole, the store is back under the high mark after each pull, what
 * is on disk is what the metadata counts, and the pinned image is never evicted.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CacheEvictionE2ETest {
    private static final String SNAPSHOTTER = "native";
    private static final String HOST = "registry-a.test";
    private static final long MAX = 60L << 20;
    private static final long HIGH = (long) (MAX * 0.9);

    @TempDir
    Path tmp;
    private final AtomicInteger namespaces = new AtomicInteger();

    @Test
    void containerdPullsSucceedWhileEvictionKeepsTheStoreUnderTheHighMark() throws Exception {
        Programs.requireRoot("containerd");
        Programs.require("containerd");
        Programs.require("skopeo");
        Programs.require("docker-registry");

        Path layout = tmp.resolve("layout");
        OciLayoutBuilder b = new OciLayoutBuilder(layout, 606);
        List<Image> images = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Image image = b.image("linux", "amd64", List.of(b.randomLayer("app" + i + ".bin", 22 << 20)));
            b.tag("v" + i, image.manifest());
            images.add(image);
        }
        Image pinned = b.image("linux", "amd64", List.of(b.randomLayer("pinned.bin", 2 << 20)));
        b.tag("pinned", pinned.manifest());
        b.finish();

        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"));
             Containerd containerd = Containerd.start(tmp.resolve("containerd"), SNAPSHOTTER)) {
            Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
            for (int i = 0; i < images.size(); i++) {
                skopeo.copy(Skopeo.oci(layout, "v" + i), "docker://" + upstream.hostPort() + "/team/app" + i + ":v1",
                        "--preserve-digests");
            }
            skopeo.copy(Skopeo.oci(layout, "pinned"), "docker://" + upstream.hostPort() + "/team/base:stable",
                    "--preserve-digests");

            UpstreamConfig up = UpstreamConfig.builder("a", upstream.url()).plainHttp(true).aliases(HOST).build();
            Path data = tmp.resolve("mirror");
            MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), data, null, null,
                    List.of(up), List.of("local"), new MirrorConfig.PullThrough(false, null), TlsConfig.off(), null,
                    new CacheConfig(MAX, 0.9, 0.8, List.of(HOST + "/team/base:stable")), null);
            try (MirrorServer mirror = MirrorServer.start(config)) {
                AtomicLong evicted = new AtomicLong();
                mirror.cache().addEvictionListener((d, size) -> evicted.addAndGet(size));
                mirror.cache().refreshPinsNow().get(60, TimeUnit.SECONDS);
                Path hosts = tmp.resolve("hosts");
                Containerd.writeHostsToml(hosts, HOST, "http://127.0.0.1:" + mirror.localAddress().getPort(),
                        MirrorLayout.NAMESPACE, null, null);

                for (int i = 0; i < images.size(); i++) {
                    pull(containerd, hosts, i, images.get(i));
                    awaitUnderHighMark(mirror, "after pulling image " + i);
                }
                assertTrue(evicted.get() > 0, "four 22 MiB images in 60 MiB: something must have been evicted");

                ExecutorService pool = Executors.newFixedThreadPool(images.size());
                try {
                    List<CompletableFuture<Void>> pulls = new ArrayList<>();
                    for (int i = 0; i < images.size(); i++) {
                        int n = i;
                        pulls.add(CompletableFuture.runAsync(() -> pull(containerd, hosts, n, images.get(n)), pool));
                    }
                    CompletableFuture.allOf(pulls.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
                } finally {
                    pool.shutdownNow();
                }
                awaitUnderHighMark(mirror, "after the parallel pulls");

                for (OciLayoutBuilder.Blob blob : pinned.blobs()) {
                    assertTrue(Files.exists(blobFile(data, blob.digest())), "pinned blob " + blob.digest() + " evicted");
                }
                assertEquals(mirror.cache().storedBytes(), bytesOnDisk(data),
                        "the files under blobs/ are exactly what the metadata counts");
            }
        }
    }

    private void pull(Containerd containerd, Path hosts, int i, Image image) {
        String ref = HOST + "/team/app" + i + ":v1";
        String ns = "evict-" + namespaces.incrementAndGet();
        Processes.Result r = containerd.pullWithHosts(hosts, ns, ref, "--print-chainid");
        assertEquals(0, r.exitCode(), () -> "pull of " + ref + " failed:\n" + r.stderr() + "\n" + r.stdout());
        assertTrue(r.stdout().contains("image chain ID: " + image.chainId()), () -> "ctr output:\n" + r.stdout());
        assertEquals(Optional.of(image.manifest().digest()), containerd.imageTarget(ns, ref));
    }

    /** Eviction runs in the background: the store must be back under the mark within a few seconds. */
    private static void awaitUnderHighMark(MirrorServer mirror, String when) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (mirror.cache().storedBytes() > HIGH && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        long stored = mirror.cache().storedBytes();
        assertTrue(stored <= HIGH, when + ": " + stored + " bytes stored, above the high mark " + HIGH);
    }

    private static Path blobFile(Path data, String digest) {
        String hex = digest.substring("sha256:".length());
        return data.resolve("blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    private static long bytesOnDisk(Path data) throws IOException {
        try (Stream<Path> files = Files.walk(data.resolve("blobs"))) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
