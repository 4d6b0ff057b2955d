package ocimirror.server.warmup;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLException;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;

/**
 * The requests of a warm-up: one image put into the warm-up's upstream ({@link WarmupUpstream}),
 * then rounds of what nodes send a mirror, through the throw-away proxy with a minimal client
 * ({@link WarmupClient}). Each round opens new connections, so TLS handshakes are warmed too.
 */
final class WarmupLoad implements AutoCloseable {
    static final String NAMESPACE = "warmup";
    private static final String REPO = "/v2/" + NAMESPACE + "/image/";
    private static final String TAG = "v1";
    // What containerd sends when it resolves a tag.
    private static final String ACCEPT = "Accept: " + String.join(", ", MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX,
            MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_MANIFEST_LIST);
    private static final int LAYER_BYTES = 256 << 10;
    private static final int COLD_BYTES = 1 << 20;
    private static final int IN_FLIGHT = 32;
    private static final long REQUEST_TIMEOUT_S = 30;

    private final WarmupUpstream upstream;
    private final WarmupClient client;
    // The bytes of every cold blob, one at a time: a counter in the first 8 bytes makes each one
    // new to the proxy without a new megabyte of garbage per blob (which grew the heap the
    // warm-up leaves behind). A blob leaves the upstream before the next one changes them.
    private final byte[] noise = new byte[COLD_BYTES];
    private long blobs;
    private ByteBuf byTag;
    private ByteBuf byDigest;
    private ByteBuf headByTag;
    private ByteBuf layerGet;
    private long requests;

    /** @param tls whether the proxy speaks TLS */
    WarmupLoad(WarmupUpstream upstream, int proxyPort, boolean tls, EventLoopGroup group) throws SSLException {
        this.upstream = upstream;
        this.client = new WarmupClient(group, proxyPort, tls);
    }

    long requests() {
        return requests;
    }

    /** Puts the image (a config, a layer, a manifest by tag) into the upstream. */
    void seed() {
        new SplittableRandom().nextBytes(noise);
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}".getBytes(UTF_8);
        byte[] layerBytes = Arrays.copyOf(noise, LAYER_BYTES);
        Digest configDigest = pushBlob(config, config.length);
        Digest layer = pushBlob(layerBytes, layerBytes.length);
        byte[] body = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\""
                + configDigest + "\",\"size\":" + config.length + "},"
                + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\""
                + layer + "\",\"size\":" + layerBytes.length + "}]}").getBytes(UTF_8);
        Digest manifest = Digest.sha256(body);
        upstream.putManifest(TAG, manifest.toString(), body);
        byTag = WarmupClient.request("GET", REPO + "manifests/" + TAG, ACCEPT);
        byDigest = WarmupClient.request("GET", REPO + "manifests/" + manifest, ACCEPT);
        headByTag = WarmupClient.request("HEAD", REPO + "manifests/" + TAG, ACCEPT);
        layerGet = blobGet(layer);
    }

    /** One round of requests on new connections; returns early once {@code stop} says so. */
    void round(BooleanSupplier stop) throws Exception {
        client.disconnect();
        client.connect(IN_FLIGHT);
        many(1000, stop, byTag, false);
        many(100, stop, byDigest, false);
        many(50, stop, headByTag, true);
        many(16, stop, layerGet, false);
        // Cold blobs: new to the proxy, fetched from the upstream while streamed to the client.
        Digest cold = pushNoise(COLD_BYTES);
        many(1, stop, blobGet(cold), false);
        upstream.removeBlob(cold.toString());
        for (int i = 0; i < 4; i++) {
            Digest small = pushNoise(16 << 10);
            many(1, stop, blobGet(small), false);
            upstream.removeBlob(small.toString());
        }
    }

    private static ByteBuf blobGet(Digest blob) {
        return WarmupClient.request("GET", REPO + "blobs/" + blob);
    }

    /** {@code count} requests, one on each of {@link #IN_FLIGHT} connections at a time; each must succeed. */
    private void many(int count, BooleanSupplier stop, ByteBuf request, boolean head) throws Exception {
        int sent = 0;
        while (sent < count && !stop.getAsBoolean()) {
            int n = Math.min(IN_FLIGHT, count - sent);
            CompletableFuture<?>[] batch = new CompletableFuture<?>[n];
            for (int i = 0; i < n; i++) {
                batch[i] = client.send(i, request, head);
            }
            try {
                CompletableFuture.allOf(batch).get(REQUEST_TIMEOUT_S, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception cause ? cause : e;
            } catch (TimeoutException e) {
                throw new IOException("warm-up request took over " + REQUEST_TIMEOUT_S + " s");
            }
            sent += n;
            requests += n;
        }
    }

    /** The first {@code n} bytes of the noise, made new by the counter, as a blob of the upstream. */
    private Digest pushNoise(int n) {
        ByteBuffer.wrap(noise).putLong(0, ++blobs);
        return pushBlob(noise, n);
    }

    private Digest pushBlob(byte[] bytes, int length) {
        MessageDigest sha256 = Digest.Algorithm.SHA256.newMessageDigest();
        sha256.update(bytes, 0, length);
        Digest d = Digest.fromHash(Digest.Algorithm.SHA256, sha256.digest());
        upstream.putBlob(d.toString(), bytes, length);
        return d;
    }

    @Override
    public void close() {
        client.close();
    }
}
