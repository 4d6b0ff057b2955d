package ocimirror.server.metrics;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures {@code blobs/} (bytes and files, like {@code du}) for {@code ocimirror_cache_size_bytes}:
 * a walk of the directory on the storage executor, started by a timer (never on an event loop),
 * one at a time. Files that vanish during the walk (evicted, deleted) are skipped.
 */
public final class CacheSizeProbe implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(CacheSizeProbe.class);

    private final Path blobsDir;
    private final Executor storage;
    private final MirrorMetrics metrics;
    private final AtomicBoolean walking = new AtomicBoolean();

    public CacheSizeProbe(Path blobsDir, Executor storage, MirrorMetrics metrics) {
        this.blobsDir = requireNonNull(blobsDir, "blobsDir");
        this.storage = requireNonNull(storage, "storage");
        this.metrics = requireNonNull(metrics, "metrics");
    }

    /** Starts a measurement on the storage executor unless one is running. */
    @Override
    public void run() {
        if (!walking.compareAndSet(false, true)) {
            return;
        }
        try {
            storage.execute(() -> {
                try {
                    long[] size = measure(blobsDir);
                    metrics.cacheSize(size[0], size[1]);
                } catch (IOException | RuntimeException e) {
                    log.warn("could not measure {}: {}", blobsDir, e.toString());
                } finally {
                    walking.set(false);
                }
            });
        } catch (RejectedExecutionException e) {
            walking.set(false);
            log.debug("cache size measurement skipped: storage executor saturated or stopped");
        }
    }

    /** {bytes, files} of the regular files under {@code dir}. */
    static long[] measure(Path dir) throws IOException {
        long[] total = new long[2];
        if (!Files.isDirectory(dir)) {
            return total;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (attrs.isRegularFile()) {
                    total[0] += attrs.size();
                    total[1]++;
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
        return total;
    }
}
