package ocimirror.server.metrics;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import ocimirror.server.upstream.BlobSink;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamHead;
import ocimirror.server.upstream.UpstreamManifest;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/** An {@link UpstreamClient} that records each request in {@link UpstreamMeters}; otherwise the delegate's. */
final class MeteredUpstreamClient implements UpstreamClient {
    private final UpstreamClient delegate;
    private final UpstreamMeters meters;

    MeteredUpstreamClient(UpstreamClient delegate, UpstreamMeters meters) {
        this.delegate = delegate;
        this.meters = meters;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public CompletableFuture<UpstreamManifest> getManifest(RepoName repo, Reference reference, List<String> accept) {
        long t0 = System.nanoTime();
        CompletableFuture<UpstreamManifest> f = delegate.getManifest(repo, reference, accept);
        f.whenComplete((m, e) -> {
            meters.request(name(), "manifest_get", e, System.nanoTime() - t0);
            if (m != null && m.body() != null) {
                meters.received(name(), m.body().length);
            }
        });
        return f;
    }

    @Override
    public CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept) {
        long t0 = System.nanoTime();
        CompletableFuture<UpstreamHead> f = delegate.headManifest(repo, reference, accept);
        f.whenComplete((h, e) -> meters.request(name(), "manifest_head", e, System.nanoTime() - t0));
        return f;
    }

    @Override
    public CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink) {
        long t0 = System.nanoTime();
        CompletableFuture<Long> f = delegate.fetchBlob(repo, digest, new CountingSink(sink));
        // Cancelling the returned future must reach the delegate's, which aborts the transfer.
        f.whenComplete((n, e) -> meters.request(name(), "blob_get", e, System.nanoTime() - t0));
        return f;
    }

    @Override
    public void close() {
        delegate.close();
    }

    /** Counts body bytes as they pass to the real sink. */
    private final class CountingSink implements BlobSink {
        private final BlobSink sink;

        CountingSink(BlobSink sink) {
            this.sink = sink;
        }

        @Override
        public CompletionStage<Void> onStart(long contentLength) {
            return sink.onStart(contentLength);
        }

        @Override
        public CompletionStage<Void> onData(ByteBuffer data) {
            meters.received(name(), data.remaining());
            return sink.onData(data);
        }

        @Override
        public void onComplete(long bytes) {
            sink.onComplete(bytes);
        }

        @Override
        public void onError(Throwable error) {
            sink.onError(error);
        }
    }
}
