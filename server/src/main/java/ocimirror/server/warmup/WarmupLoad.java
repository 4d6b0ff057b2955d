package ocimirror.server.warmup;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.BlobSink;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamClientOptions;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * The requests of a warm-up: one image put into the warm-up's upstream ({@link WarmupUpstream}),
 * then rounds of what nodes send a mirror, through the throw-away proxy with the mirror's own
 * upstream client (so the client side of TLS and of blob streaming is compiled too). Each round
 * starts a new client, so its connections (and TLS handshakes) are new.
 */
final class WarmupLoad implements AutoCloseable {
    static final String NAMESPACE = "warmup";
    private static final RepoName REPO = RepoName.of(NAMESPACE + "/image");
    private static final String TAG = "v1";
    // What containerd sends when it resolves a tag.
    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX,
            MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_MANIFEST_LIST);
    private static final int LAYER_BYTES = 256 << 10;
    private static final int COLD_BYTES = 1 << 20;
    private static final int IN_FLIGHT = 32;
    private static final long REQUEST_TIMEOUT_S = 30;

    private final WarmupUpstream upstream;
    private final UpstreamConfig proxy;
    private final EventLoopGroup group;
    // The bytes of every cold blob, one at a time: a counter in the first 8 bytes makes each one
    // new to the proxy without a new megabyte of garbage per blob (which grew the heap the
    // warm-up leaves behind). A blob leaves the upstream before the next one changes them.
    private final byte[] noise = new byte[COLD_BYTES];
    private long blobs;
    private UpstreamClient client;
    private Digest manifest;
    private Digest layer;
    private long requests;

    /** @param proxyCa the proxy's CA when it speaks TLS, else null */
    WarmupLoad(WarmupUpstream upstream, int proxyPort, Path proxyCa, EventLoopGroup group) {
        this.upstream = upstream;
        this.group = group;
        UpstreamConfig.Builder b = UpstreamConfig.builder("warmup-proxy",
                (proxyCa == null ? "http" : "https") + "://127.0.0.1:" + proxyPort);
        this.proxy = (proxyCa == null ? b.plainHttp(true) : b.caCert(proxyCa)).build();
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
        layer = pushBlob(layerBytes, layerBytes.length);
        byte[] body = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\""
                + configDigest + "\",\"size\":" + config.length + "},"
                + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\""
                + layer + "\",\"size\":" + layerBytes.length + "}]}").getBytes(UTF_8);
        manifest = Digest.sha256(body);
        upstream.putManifest(TAG, manifest.toString(), body);
    }

    /** One round of requests on new connections; returns early once {@code stop} says so. */
    void round(BooleanSupplier stop) throws Exception {
        if (client != null) {
            client.close();
        }
        client = new NettyUpstreamClient(proxy, Optional.empty(), group, Clock.systemUTC(),
                UpstreamClientOptions.defaults());
        Reference tag = Reference.parse(TAG);
        Reference digest = Reference.parse(manifest.toString());
        many(1000, stop, () -> client.getManifest(REPO, tag, ACCEPT));
        many(100, stop, () -> client.getManifest(REPO, digest, ACCEPT));
        many(50, stop, () -> client.headManifest(REPO, tag, ACCEPT));
        many(16, stop, () -> client.fetchBlob(REPO, layer, new Discard()));
        // Cold blobs: new to the proxy, fetched from the upstream while streamed to the client.
        Digest cold = pushNoise(COLD_BYTES);
        many(1, stop, () -> client.fetchBlob(REPO, cold, new Discard()));
        upstream.removeBlob(cold.toString());
        for (int i = 0; i < 4; i++) {
            Digest small = pushNoise(16 << 10);
            many(1, stop, () -> client.fetchBlob(REPO, small, new Discard()));
            upstream.removeBlob(small.toString());
        }
    }

    /** {@code count} requests, {@link #IN_FLIGHT} at a time; each must succeed. */
    private void many(int count, BooleanSupplier stop, Supplier<CompletableFuture<?>> request) throws Exception {
        int sent = 0;
        while (sent < count && !stop.getAsBoolean()) {
            int n = Math.min(IN_FLIGHT, count - sent);
            CompletableFuture<?>[] batch = new CompletableFuture<?>[n];
            for (int i = 0; i < n; i++) {
                batch[i] = request.get();
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
        if (client != null) {
            client.close();
        }
    }

    /** Reads a blob body and drops it. */
    private static final class Discard implements BlobSink {
        private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

        @Override
        public CompletionStage<Void> onStart(long contentLength) {
            return DONE;
        }

        @Override
        public CompletionStage<Void> onData(ByteBuffer data) {
            return DONE;
        }

        @Override
        public void onComplete(long bytes) {
        }

        @Override
        public void onError(Throwable error) {
        }
    }
}
