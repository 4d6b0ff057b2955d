package ocimirror.server.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import ocimirror.server.pullthrough.AcceptedTypes;
import ocimirror.server.pullthrough.BlobSource;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.storage.cache.ManifestRefs;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps pinned images of proxied repositories cached and current: each round asks the
 * pull-through service for the pinned tag as a client would (so it is revalidated upstream once
 * its tag TTL has passed, and a moved tag is fetched), then for every manifest of an index (all
 * platforms) and every config and layer, waiting for downloads to commit. What is cached already
 * is a local hit. Hosted pins need nothing: hosted content is never evicted.
 *
 * <p>Thread-safe; completions run on storage and upstream threads, manifest files are read on the
 * storage executor.
 */
final class PinRefresher {
    private static final Logger log = LoggerFactory.getLogger(PinRefresher.class);

    private final PullThroughService pullThrough;
    private final Executor storage;

    PinRefresher(PullThroughService pullThrough, Executor storage) {
        this.pullThrough = requireNonNull(pullThrough, "pullThrough");
        this.storage = requireNonNull(storage, "storage");
    }

    /** One round over {@code pins}; completes when every image is whole (failures are logged, not thrown). */
    CompletableFuture<Void> refresh(List<PinnedImage> pins) {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (PinnedImage pin : pins) {
            if (pin.target() instanceof RepoTarget.Proxied p) {
                all.add(image(p, pin.reference()).exceptionally(e -> {
                    log.warn("pinned image {} not refreshed: {}", pin.image(), e.getCause() != null ? e.getCause()
                            .getMessage() : e.getMessage());
                    return null;
                }));
            }
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    private CompletableFuture<Void> image(RepoTarget.Proxied target, Reference ref) {
        return pullThrough.manifest(target, ref, AcceptedTypes.all())
                .thenApplyAsync(this::read, storage)
                .thenCompose(bytes -> {
                    Set<Digest> children = ManifestRefs.children(bytes);
                    List<CompletableFuture<?>> parts = new ArrayList<>();
                    for (Digest child : children) {
                        parts.add(image(target, new Reference.ByDigest(child)));
                    }
                    for (Digest d : ManifestRefs.of(bytes)) {
                        if (!children.contains(d)) {
                            parts.add(blob(target, d));
                        }
                    }
                    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
                });
    }

    private CompletableFuture<?> blob(RepoTarget.Proxied target, Digest digest) {
        return pullThrough.blob(target, digest).thenCompose(source -> source instanceof BlobSource.Downloading d
                ? d.fetch().committed() : CompletableFuture.completedFuture(null));
    }

    private byte[] read(ManifestContent content) {
        try {
            return Files.readAllBytes(content.blob().path());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
