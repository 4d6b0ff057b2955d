package ocimirror.server.pullthrough;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BiFunction;
import ocimirror.server.route.RepoTarget;
import ocimirror.storage.oci.Digest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches the config and layers of a freshly fetched image manifest in the background, a few
 * at a time, through the same in-flight downloads as clients, so that a node's blob requests
 * that follow its manifest request join a running download or hit the cache. Bounded: at most
 * {@code parallelism} downloads and {@code maxQueued} waiting digests; beyond that a digest is
 * simply left for its client to fetch.
 */
final class Prefetcher {
    private static final Logger log = LoggerFactory.getLogger(Prefetcher.class);

    private final int parallelism;
    private final int maxQueued;
    private final Executor executor;
    private final BiFunction<RepoTarget.Proxied, Digest, CompletableFuture<?>> fetch;
    private final Deque<Task> queue = new ArrayDeque<>();
    private final Set<Digest> pending = new HashSet<>();
    private int running;
    private boolean closed;

    private record Task(RepoTarget.Proxied target, Digest digest) {
    }

    /**
     * @param executor where the next download is started once one finishes (not inline, which
     *                 could recurse through many already-stored blobs)
     * @param fetch    downloads one blob (completes when it is stored, or failed)
     */
    Prefetcher(int parallelism, int maxQueued, Executor executor,
               BiFunction<RepoTarget.Proxied, Digest, CompletableFuture<?>> fetch) {
        if (parallelism <= 0 || maxQueued <= 0) {
            throw new IllegalArgumentException("parallelism and maxQueued must be positive");
        }
        this.parallelism = parallelism;
        this.maxQueued = maxQueued;
        this.executor = executor;
        this.fetch = fetch;
    }

    /** Queues the digests not queued yet; returns how many were queued. */
    int submit(RepoTarget.Proxied target, List<Digest> digests) {
        int added = 0;
        synchronized (this) {
            for (Digest d : digests) {
                if (closed || pending.size() >= maxQueued) {
                    break;
                }
                if (pending.add(d)) {
                    queue.add(new Task(target, d));
                    added++;
                }
            }
        }
        drain();
        return added;
    }

    private void drain() {
        List<Task> start = new ArrayList<>();
        synchronized (this) {
            while (!closed && running < parallelism && !queue.isEmpty()) {
                running++;
                start.add(queue.poll());
            }
        }
        for (Task t : start) {
            CompletableFuture<?> f;
            try {
                f = fetch.apply(t.target(), t.digest());
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.whenCompleteAsync((v, e) -> {
                if (e != null) {
                    log.debug("prefetch of {} for {} failed: {}", t.digest(), t.target().repo(), e.toString());
                }
                synchronized (this) {
                    running--;
                    pending.remove(t.digest());
                }
                drain();
            }, executor);
        }
    }

    /** Drops what is queued; downloads already running finish on their own. */
    synchronized void close() {
        closed = true;
        queue.clear();
        pending.clear();
    }
}
