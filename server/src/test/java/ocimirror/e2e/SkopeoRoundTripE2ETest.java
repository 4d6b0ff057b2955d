package ocimirror.e2e;

import static ocimirror.testing.Skopeo.docker;
import static ocimirror.testing.Skopeo.oci;
import static ocimirror.testing.OciAssertions.assertLayoutHolds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.testing.OciAssertions;
import ocimirror.testing.OciLayoutBuilder.Blob;
import ocimirror.testing.OciLayoutBuilder.Fixture;
import ocimirror.testing.OciLayoutBuilder.Image;
import ocimirror.testing.OciLayoutBuilder;
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
 * The real skopeo pushes images into the registry under test and copies them back out:
 * what comes back must be byte for byte what was built, manifests and layers alike.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SkopeoRoundTripE2ETest {

    @TempDir
    static Path tmp;
    private static Skopeo skopeo;
    private static Fixture fixture;
    private static TargetRegistry registry;
    private static RegistryClient client;

    @BeforeAll
    static void startRegistryAndBuildImages() throws Exception {
        if (!Programs.present("skopeo") && !Programs.inCi()) {
            return; // each test skips in requireSkopeo()
        }
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        fixture = OciLayoutBuilder.standard(Files.createDirectories(tmp.resolve("layout")));
        registry = TargetRegistry.start(tmp.resolve("registry"));
        client = new RegistryClient(registry.hostPort());
    }

    @AfterAll
    static void stopRegistry() {
        if (registry != null) {
            registry.close();
        }
    }

    @BeforeEach
    void requireSkopeo() {
        Programs.require("skopeo");
    }

    @Test
    void singlePlatformImageRoundTripsByteForByte() throws IOException {
        Image image = fixture.single();
        String pushed = docker(registry.hostPort(), "e2e/single", "v1");
        skopeo.copy(oci(fixture.dir(), Fixture.SINGLE_REF), pushed);

        assertArrayEquals(image.manifest().bytes(), skopeo.inspectRaw(pushed), "manifest bytes by tag");
        assertArrayEquals(image.manifest().bytes(),
                skopeo.inspectRaw(docker(registry.hostPort(), "e2e/single", image.manifest().digest())),
                "manifest bytes by digest");

        Path out = tmp.resolve("out-single");
        skopeo.copy(pushed, oci(out, "v1"));
        assertLayoutHolds(out, image.manifest().digest(), image.blobs());
    }

    @Test
    void imageIndexRoundTripsWithEveryPlatform() throws IOException {
        Blob index = fixture.multi().index();
        String pushed = docker(registry.hostPort(), "e2e/multi", "v1");
        skopeo.copyAll(oci(fixture.dir(), Fixture.MULTI_REF), pushed);

        assertArrayEquals(index.bytes(), skopeo.inspectRaw(pushed), "index bytes by tag");
        List<Blob> expected = new ArrayList<>(List.of(index));
        for (Image image : fixture.multi().byPlatform().values()) {
            assertArrayEquals(image.manifest().bytes(),
                    skopeo.inspectRaw(docker(registry.hostPort(), "e2e/multi", image.manifest().digest())),
                    image.platform() + " manifest bytes by digest");
            expected.addAll(image.blobs());
        }

        Path out = tmp.resolve("out-multi");
        skopeo.copyAll(pushed, oci(out, "v1"));
        assertLayoutHolds(out, index.digest(), expected);
    }

    @Test
    void sameImagePushedToASecondRepository() throws IOException {
        Image image = fixture.single();
        skopeo.copy(oci(fixture.dir(), Fixture.SINGLE_REF), docker(registry.hostPort(), "e2e/first", "v1"));
        // skopeo's blob info cache now knows e2e/first holds the layers, so it tries a
        // cross-repository mount; a registry may accept it (201) or ask for an upload (202).
        String second = docker(registry.hostPort(), "e2e/second/nested", "v2");
        skopeo.copy(docker(registry.hostPort(), "e2e/first", "v1"), second);

        assertArrayEquals(image.manifest().bytes(), skopeo.inspectRaw(second), "manifest bytes in second repo");
        // The manifest is reachable as a manifest, not necessarily as a blob: check the rest.
        for (Blob blob : image.blobs().subList(1, 2 + image.layers().size())) {
            HttpResponse<byte[]> head = client.send(client.request("/v2/e2e/second/nested/blobs/" + blob.digest())
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
            assertEquals(200, head.statusCode(), () -> RegistryClient.describe(head));
            assertEquals(Optional.of(String.valueOf(blob.size())), head.headers().firstValue("Content-Length"));
            assertEquals(Optional.of(blob.digest()), head.headers().firstValue("Docker-Content-Digest"));
            OciAssertions.assertApiVersion(head);
        }
        Path out = tmp.resolve("out-second");
        skopeo.copy(second, oci(out, "v2"));
        assertLayoutHolds(out, image.manifest().digest(), image.blobs());
    }
}
