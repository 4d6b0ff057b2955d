package ocimirror.server.metrics;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.BiConsumer;
import ocimirror.server.upstream.BlobSink;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamHead;
import ocimirror.server.upstream.UpstreamListing;
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
        return recorded(delegate.getManifest(repo, reference, accept), (m, e) -> {
            meters.request(name(), "manifest_get", e, System.nanoTime() - t0);
            if (m != null && m.body() != null) {
                meters.received(name(), m.body().length);
            }
        });
    }

    @Override
    public CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept) {
        long t0 = System.nanoTime();
        return recorded(delegate.headManifest(repo, reference, accept),
                (h, e) -> meters.request(name(), "manifest_head", e, System.nanoTime() - t0));
    }

    @Override
    public CompletableFuture<UpstreamListing> listTags(RepoName repo, int n, String last) {
        return listing("tags_list", delegate.listTags(repo, n, last));
    }

    @Override
    public CompletableFuture<UpstreamListing> referrers(RepoName repo, Digest subject, String artifactType) {
        return listing("referrers", delegate.referrers(repo, subject, artifactType));
    }

    @Override
    public CompletableFuture<UpstreamListing> referrersPage(RepoName repo, Digest subject, String link) {
        return listing("referrers", delegate.referrersPage(repo, subject, link));
    }

    private CompletableFuture<UpstreamListing> listing(String op, CompletableFuture<UpstreamListing> f) {
        long t0 = System.nanoTime();
        return recorded(f, (l, e) -> {
            meters.request(name(), op, e, System.nanoTime() - t0);
            if (l != null) {
                meters.received(name(), l.body().length);
            }
        });
    }

    @Override
    public CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink) {
        long t0 = System.nanoTime();
        return recorded(delegate.fetchBlob(repo, digest, new CountingSink(sink)),
                (n, e) -> meters.request(name(), "blob_get", e, System.nanoTime() - t0));
    }

    /**
     * A future that completes like {@code f} once {@code record} has run (so whoever sees the
     * outcome sees it counted); cancelling it cancels {@code f} (which aborts a blob transfer).
     */
    private static <T> CompletableFuture<T> recorded(CompletableFuture<T> f, BiConsumer<T, Throwable> record) {
        CompletableFuture<T> out = new CompletableFuture<>();
        f.whenComplete((v, e) -> {
            try {
                record.accept(v, e);
            } finally {
                if (e != null) {
                    out.completeExceptionally(e instanceof CompletionException && e.getCause() != null
                            ? e.getCause() : e);
                } else {
                    out.complete(v);
                }
            }
        });
        out.whenComplete((v, e) -> {
            if (out.isCancelled()) {
                f.cancel(false);
            }
        });
        return out;
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
