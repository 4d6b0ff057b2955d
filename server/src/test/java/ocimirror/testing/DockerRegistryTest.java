package ocimirror.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness itself: what the pull-through tests rely on when they count upstream requests
 * in the access log and simulate an outage by stopping the registry.
 */
class DockerRegistryTest {

    @TempDir
    Path tmp;

    @Test
    void countsBlobGetsAcrossARestartOnTheSamePortAndStorage() throws Exception {
        Programs.require("skopeo");
        TinyImage image = TinyImage.write(tmp.resolve("image"), "1", 2_000, 7);
        try (DockerRegistry registry = DockerRegistry.start(tmp.resolve("registry"))) {
            registry.push(image, "lib/tiny:1", null, null);
            String digest = image.layerDigest().toString();
            assertArrayEquals(image.layer(), Files.readAllBytes(registry.blobFile(digest)), "blob file layout");
            long before = registry.blobGets("lib/tiny", digest); // skopeo may or may not GET it on push
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            URI blob = URI.create(registry.url() + "/v2/lib/tiny/blobs/" + digest);

            assertArrayEquals(image.layer(), get(http, blob));
            assertEquals(before + 1, registry.blobGets("lib/tiny", digest));
            long heads = registry.requests("HEAD", "/v2/lib/tiny/blobs/" + digest);
            HttpResponse<Void> head = http.send(HttpRequest.newBuilder(blob).method("HEAD",
                    HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
            assertEquals(200, head.statusCode());
            assertEquals(heads + 1, registry.requests("HEAD", "/v2/lib/tiny/blobs/" + digest));
            assertEquals(before + 1, registry.blobGets("lib/tiny", digest), "a HEAD is not a GET");

            registry.stop();
            assertThrows(ConnectException.class, () -> get(http, blob));

            registry.start();
            assertArrayEquals(image.layer(), get(http, blob));
            assertEquals(before + 2, registry.blobGets("lib/tiny", digest), "log kept across the restart");
            assertTrue(registry.log().stream().noneMatch(l -> l.contains("panic")), "no panic in the log");
        }
    }

    private static byte[] get(HttpClient http, URI uri) throws IOException, InterruptedException {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode(), () -> uri + " -> " + r.statusCode());
        return r.body();
    }
}
