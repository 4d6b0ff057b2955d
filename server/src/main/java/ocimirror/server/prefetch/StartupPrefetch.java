package ocimirror.server.prefetch;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import ocimirror.server.image.ImageManifest;
import ocimirror.server.image.ImageName;
import ocimirror.server.image.Platform;
import ocimirror.server.pullthrough.AcceptedTypes;
import ocimirror.server.pullthrough.BlobSource;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warms the cache at start with the images of {@code pullThrough.prefetch}: on one background
 * thread, image after image, each manifest, every platform of an index (or only those of
 * {@code pullThrough.prefetchPlatforms}), every config and layer,
 * through {@link PullThroughService} itself (so downloads coalesce with clients' and are
 * verified and stored the same way). An image that fails (upstream out, not found) is logged
 * and skipped; the server serves throughout. Closing stops it between two steps.
 */
public final class StartupPrefetch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StartupPrefetch.class);
    /** Bound on one manifest round or blob download, so a hung upstream cannot park the thread forever. */
    private static final Duration STEP_TIMEOUT = Duration.ofMinutes(30);

    private final PullThroughService pullThrough;
    private final UpstreamRouter router;
    private final List<String> images;
    private final List<Platform> platforms;
    private final Thread thread;
    private volatile boolean closed;

    /** What a run did, for logs and tests. */
    public record Outcome(int images, int failed, int blobs) {
    }

    private final CompletableFuture<Outcome> done = new CompletableFuture<>();

    public StartupPrefetch(PullThroughService pullThrough, UpstreamRouter router, List<String> images) {
        this(pullThrough, router, images, List.of());
    }

    /** @param platforms the platforms of an index to warm; empty: all of them */
    public StartupPrefetch(PullThroughService pullThrough, UpstreamRouter router, List<String> images,
                           List<Platform> platforms) {
        this.pullThrough = requireNonNull(pullThrough, "pullThrough");
        this.router = requireNonNull(router, "router");
        this.images = List.copyOf(images);
        this.platforms = List.copyOf(platforms);
        this.thread = new Thread(this::run, "ocimirror-prefetch");
        this.thread.setDaemon(true);
    }

    /** Starts the background thread; returns at once. */
    public StartupPrefetch start() {
        thread.start();
        return this;
    }

    /** Completes when every image was tried (or the prefetch was closed). */
    public CompletableFuture<Outcome> done() {
        return done.copy();
    }

    private void run() {
        int failed = 0;
        Set<Digest> blobs = new HashSet<>();
        long start = System.nanoTime();
        for (String image : images) {
            if (closed) {
                break;
            }
            try {
                int before = blobs.size();
                warm(ImageName.parse(image), blobs);
                log.info("prefetched {} ({} blobs)", image, blobs.size() - before);
            } catch (InterruptedException e) {
                break;
            } catch (Exception e) {
                failed++;
                Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                if (!closed) {
                    log.warn("prefetch of {} failed: {}", image, cause.getMessage() == null ? cause.toString()
                            : cause.getMessage());
                }
            }
        }
        log.info("prefetch done: {} of {} images in {} s", images.size() - failed, images.size(),
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
        done.complete(new Outcome(images.size(), failed, blobs.size()));
    }

    private void warm(ImageName image, Set<Digest> blobs) throws Exception {
        RepoTarget target = image.resolve(router);
        if (!(target instanceof RepoTarget.Proxied proxied)) {
            throw new IllegalArgumentException("'" + image + "' is hosted here, not proxied: nothing to prefetch");
        }
        ManifestContent top = await(pullThrough.manifest(proxied, image.reference(), AcceptedTypes.all()));
        walk(proxied, top, blobs, 0);
    }

    private void walk(RepoTarget.Proxied target, ManifestContent m, Set<Digest> blobs, int depth) throws Exception {
        ImageManifest parsed = ImageManifest.parse(read(m), m.mediaType());
        for (ImageManifest.Descriptor child : parsed.manifests()) {
            if (!platforms.isEmpty() && platforms.stream().noneMatch(p -> p.matches(child.platform()))) {
                continue;
            }
            if (depth < 8 && !closed) {
                walk(target, await(pullThrough.manifest(target, new Reference.ByDigest(child.digest()),
                        AcceptedTypes.all())), blobs, depth + 1);
            }
        }
        for (ImageManifest.Descriptor b : parsed.blobs()) {
            if (closed) {
                return;
            }
            if (blobs.add(b.digest())) {
                BlobSource source = await(pullThrough.prefetchBlob(target, b.digest()));
                if (source instanceof BlobSource.Downloading d) {
                    await(d.fetch().committed());
                }
            }
        }
    }

    private static byte[] read(ManifestContent m) throws IOException {
        return Files.readAllBytes(m.blob().path());
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get(STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new IOException("no answer within " + STEP_TIMEOUT.toMinutes() + " minutes");
        }
    }

    /** Stops after the current step (the download under way goes on for its clients, or is cancelled with the service). */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
