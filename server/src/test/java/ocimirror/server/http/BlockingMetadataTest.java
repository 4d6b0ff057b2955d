package ocimirror.server.http;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With a metadata store whose reads may block (PostgreSQL, shared by replicas), the hosted reads
 * that a local store answers on the event loop (manifest, blob, referrers) are made on the storage
 * executor: a miss there is a network round trip, up to the pool's timeout while PostgreSQL is away.
 */
class BlockingMetadataTest {
    private static final Set<String> READS = Set.of("getTag", "getManifest", "isBlobLinked", "getBlob",
            "referrers", "isBlobLinkedAnywhere");

    @TempDir
    Path dir;

    private final ThreadLocal<Boolean> onStorage = ThreadLocal.withInitial(() -> false);
    private final List<String> onLoop = new CopyOnWriteArrayList<>();
    private Harness h;

    @AfterEach
    void close() {
        if (h != null) {
            h.close();
        }
    }

    /** The storage executor runs tasks at once, on the caller's thread, marked as storage work. */
    private Executor storage() {
        return task -> {
            onStorage.set(true);
            try {
                task.run();
            } finally {
                onStorage.set(false);
            }
        };
    }

    /** The store as it is, saying that its reads may block, and noting the reads made off the storage executor. */
    private MetadataStore blocking(MetadataStore store) {
        return (MetadataStore) Proxy.newProxyInstance(MetadataStore.class.getClassLoader(),
                new Class<?>[] {MetadataStore.class}, (proxy, method, args) -> {
                    if (method.getName().equals("mayBlock")) {
                        return true;
                    }
                    if (READS.contains(method.getName()) && !onStorage.get()) {
                        onLoop.add(method.getName());
                    }
                    try {
                        return method.invoke(store, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void hostedReadsLeaveTheEventLoop() throws Exception {
        h = new Harness(dir, storage(), this::blocking);
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(UTF_8);
        byte[] layer = "layer bytes".getBytes(UTF_8);
        Digest c = h.pushBlob("team/app", config);
        Digest l = h.pushBlob("team/app", layer);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{"
                + "\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + c + "\",\"size\":"
                + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                + "\"digest\":\"" + l + "\",\"size\":" + layer.length + "}]}").getBytes(UTF_8);
        HttpRequest put = Harness.request(HttpMethod.PUT, "/v2/team/app/manifests/v1");
        put.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        assertEquals(201, h.send(put, manifest).status());
        onLoop.clear();

        Harness.Response m = h.send(HttpMethod.GET, "/v2/team/app/manifests/v1");
        assertEquals(200, m.status());
        assertEquals(Digest.sha256(manifest).toString(), m.header("Docker-Content-Digest"));
        Harness.Response b = h.send(HttpMethod.GET, "/v2/team/app/blobs/" + l);
        assertEquals(200, b.status());
        assertEquals("layer bytes", new String(b.body(), UTF_8));
        assertEquals(404, h.send(HttpMethod.GET, "/v2/team/app/blobs/" + Digest.sha256(new byte[1])).status());
        assertEquals(200, h.send(HttpMethod.GET, "/v2/team/app/referrers/" + Digest.sha256(manifest)).status());
        assertEquals(List.of(), onLoop, "metadata reads made on the event loop");
        assertFalse(h.ch.finishAndReleaseAll());
    }
}
