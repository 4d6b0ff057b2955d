package ocimirror.server.cache;

import static java.util.Objects.requireNonNull;

import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import ocimirror.config.CacheConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import ocimirror.storage.cache.Evictor;
import ocimirror.storage.cache.HostedGc;
import ocimirror.storage.cache.PinnedSet;
import ocimirror.storage.oci.Digest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background work that keeps the store bounded and tidy, scheduled on one small thread and
 * run on the storage executor:
 * <ul>
 *   <li><b>Eviction</b> (when {@code cache.maxSize} is set): a pass starts as soon as a commit
 *       pushes the blob total past the high watermark, and every {@link #EVICTION_CHECK} anyway;
 *       a pass that stopped above the mark because blobs were being read is retried after
 *       {@link #EVICTION_RETRY}. Passes never overlap.</li>
 *   <li><b>Garbage collection</b> of hosted repositories every {@code gc.interval}.</li>
 *   <li><b>Pins</b> (from {@code cache.pins} and {@code ocimirror pin add}): protected from
 *       eviction, and refreshed every {@link #PIN_CHECK} through the pull-through service, which
 *       goes upstream only when the tag's TTL has passed. {@link #addPin} and {@link #removePin}
 *       (the admin API) change the stored pins while the server runs; the evictor and the
 *       refresher see the change at their next pass, and an added pin is fetched at once.</li>
 * </ul>
 * {@link #addEvictionListener} connects metrics. Thread-safe.
 */
public final class CacheMaintenance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CacheMaintenance.class);
    static final Duration EVICTION_CHECK = Duration.ofSeconds(30);
    static final Duration EVICTION_RETRY = Duration.ofSeconds(1);
    static final Duration PIN_CHECK = Duration.ofMinutes(1);

    private final Storage storage;
    private final Executor executor;
    private final CacheConfig cache;
    private final ScheduledExecutorService scheduler;
    private final Evictor evictor;
    private final HostedGc gc;
    private final UpstreamRouter router;
    private final LivePins pins;
    private final PinRefresher refresher;
    private final AtomicBoolean evictionQueued = new AtomicBoolean();
    private final Object evicting = new Object();
    private final Object collecting = new Object();
    private volatile boolean closed;

    private CacheMaintenance(Storage storage, Executor executor, CacheConfig cache, Evictor evictor, HostedGc gc,
                             UpstreamRouter router, LivePins pins, PinRefresher refresher) {
        this.storage = storage;
        this.executor = executor;
        this.cache = cache;
        this.evictor = evictor;
        this.gc = gc;
        this.router = router;
        this.pins = pins;
        this.refresher = refresher;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("ocimirror-cache", true));
    }

    /**
     * Resolves the pins, wires eviction, collection and refresh, and starts their schedules.
     *
     * @param pullThrough null when no upstream is configured (nothing to evict or refresh then)
     */
    public static CacheMaintenance start(MirrorConfig config, Storage storage, Executor executor, Clock clock,
                                         UpstreamRouter router, PullThroughService pullThrough,
                                         RegistryService service) {
        requireNonNull(config, "config");
        CacheRepos repos = new CacheRepos(config.upstreams());
        LivePins pins = new LivePins(new LinkedHashSet<>(config.cache().pins()), resolvePins(config, storage, router));
        // A supplier over the live set: each eviction pass protects the pins in force when it starts.
        Evictor evictor = new Evictor(storage.index(), storage.blobs(), clock, repos,
                () -> pinnedDigests(pins, storage));
        Duration grace = config.gc().gracePeriod();
        HostedGc gc = new HostedGc(storage.metadata(), storage.index(), storage.blobs(), clock, grace, repos::hosted,
                (repo, digest) -> service.checkedWithin(repo, digest, grace));
        PinRefresher refresher = pullThrough == null ? null : new PinRefresher(pullThrough, executor);
        CacheMaintenance m = new CacheMaintenance(storage, executor, config.cache(), evictor, gc, router, pins,
                refresher);
        m.schedule(config);
        return m;
    }

    private static List<PinnedImage> resolvePins(MirrorConfig config, Storage storage, UpstreamRouter router) {
        Set<String> images = new LinkedHashSet<>(config.cache().pins());
        images.addAll(storage.index().pins());
        List<PinnedImage> pins = new ArrayList<>();
        for (String image : images) {
            try {
                pins.add(PinnedImage.resolve(image, router));
            } catch (IllegalArgumentException e) {
                log.warn("pin ignored: {}", e.getMessage());
            }
        }
        if (!pins.isEmpty()) {
            log.info("pinned images: {}", pins);
        }
        return List.copyOf(pins);
    }

    private void schedule(MirrorConfig config) {
        if (cache.isBounded()) {
            long high = cache.highBytes();
            storage.index().addBlobBytesListener(total -> {
                if (total > high) {
                    requestEviction();
                }
            });
            scheduler.scheduleWithFixedDelay(this::requestEviction, 0, EVICTION_CHECK.toMillis(), TimeUnit.MILLISECONDS);
            log.info("cache bounded to {} bytes: eviction above {} down to {} ({} stored now)", cache.maxSize(),
                    high, cache.lowBytes(), storage.index().blobBytes());
        }
        if (config.gc().periodic()) {
            long every = config.gc().interval().toMillis();
            scheduler.scheduleWithFixedDelay(() -> collectNow(), every, every, TimeUnit.MILLISECONDS);
        }
        if (refresher != null) { // even with no pins yet: the admin API may add some
            scheduler.scheduleWithFixedDelay(() -> refreshPinsNow(), 0, PIN_CHECK.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Connects a listener (metrics) told of every blob evicted. */
    public void addEvictionListener(Evictor.EvictionListener listener) {
        evictor.addListener(listener);
    }

    /** Bytes of committed blobs now (what {@code cache.maxSize} bounds). */
    public long storedBytes() {
        return storage.index().blobBytes();
    }

    /** The pins in force now: the configuration's first, then the stored ones (a snapshot). */
    public List<PinnedImage> pins() {
        return pins.current();
    }

    /** Whether {@code image}, as written, is pinned by {@code cache.pins} (which the admin API cannot remove). */
    public boolean pinnedByConfig(String image) {
        return pins.fromConfig(image);
    }

    /**
     * What {@link #addPin} did.
     *
     * @param pin       the pin, routed
     * @param created   false if it was pinned already (stored, or in {@code cache.pins})
     * @param refreshed completes when the image is whole in the cache, or its fetch failed (logged);
     *                  never exceptionally
     */
    public record PinAdded(PinnedImage pin, boolean created, CompletableFuture<Void> refreshed) {
    }

    /** What {@link #removePin} did. */
    public enum PinRemoval {
        /** Removed from the store and from force. */
        REMOVED,
        /** Not a stored pin (nothing changed). */
        NOT_PINNED,
        /** In {@code cache.pins}: only an edit of the configuration file (and a restart) removes it. */
        IN_CONFIG
    }

    /**
     * Pins {@code image} while the server runs: stores it in the data directory (on the storage
     * executor), puts it in force for the evictor and the refresher, and starts fetching it at once.
     * Pinning what is pinned already refreshes it all the same.
     *
     * @return completes once stored; the fetch goes on after ({@link PinAdded#refreshed})
     * @throws IllegalArgumentException at once, naming what is wrong, when {@code image} is no image
     *                                  reference or no upstream or hosted namespace serves it
     */
    public CompletableFuture<PinAdded> addPin(String image) {
        PinnedImage pin = PinnedImage.resolve(image, router);
        return onStorage(() -> pins.add(pin, storage.index())).thenApply(created -> {
            if (created) {
                log.info("pinned {}", pin);
            }
            return new PinAdded(pin, created, refreshNow(pin));
        });
    }

    // The pin is stored whatever happens here: a fetch that cannot start now is the schedule's to retry.
    private CompletableFuture<Void> refreshNow(PinnedImage pin) {
        if (refresher == null || closed) {
            return CompletableFuture.completedFuture(null);
        }
        try {
            return refresher.refresh(List.of(pin));
        } catch (RuntimeException e) {
            log.warn("pinned image {} not fetched now (the next refresh retries): {}", pin.image(), e.toString());
            return CompletableFuture.completedFuture(null);
        }
    }

    /**
     * Unpins {@code image} (as it was added) while the server runs. What it kept cached becomes
     * evictable like anything else; nothing is deleted now.
     */
    public CompletableFuture<PinRemoval> removePin(String image) {
        if (pins.fromConfig(image)) {
            return CompletableFuture.completedFuture(PinRemoval.IN_CONFIG);
        }
        return onStorage(() -> pins.remove(image, storage.index())).thenApply(removed -> {
            if (removed) {
                log.info("unpinned {}", image);
            }
            return removed ? PinRemoval.REMOVED : PinRemoval.NOT_PINNED;
        });
    }

    private <T> CompletableFuture<T> onStorage(Supplier<T> task) {
        if (closed) {
            return CompletableFuture.failedFuture(new RejectedExecutionException("the server is stopping"));
        }
        try {
            return CompletableFuture.supplyAsync(task, executor);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Runs an eviction pass now if the total is above the high watermark (tests, and the schedule). */
    public CompletableFuture<Evictor.Pass> evictNow() {
        if (!cache.isBounded()) {
            return CompletableFuture.completedFuture(new Evictor.Pass(0, 0, 0, 0, storedBytes()));
        }
        return CompletableFuture.supplyAsync(this::evictionPass, executor);
    }

    /** Runs a garbage collection of hosted repositories now. */
    public CompletableFuture<HostedGc.Run> collectNow() {
        try {
            return CompletableFuture.supplyAsync(() -> {
                synchronized (collecting) {
                    return gc.run();
                }
            }, executor).whenComplete((r, e) -> {
                if (e != null && !closed) {
                    log.warn("garbage collection failed", e);
                }
            });
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Refreshes every pinned image now; completes when they are whole (failures are logged). */
    public CompletableFuture<Void> refreshPinsNow() {
        return refresher == null ? CompletableFuture.completedFuture(null) : refresher.refresh(pins.current());
    }

    private void requestEviction() {
        if (closed || !evictionQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.execute(() -> {
                evictionQueued.set(false);
                Evictor.Pass pass = evictionPass();
                if (pass.total() > cache.highBytes() && pass.held() > 0 && !closed) {
                    // Blobs being read kept it above the mark: try again once they may be done.
                    scheduler.schedule(this::requestEviction, EVICTION_RETRY.toMillis(), TimeUnit.MILLISECONDS);
                }
            });
        } catch (RejectedExecutionException e) {
            evictionQueued.set(false);
            if (!closed) {
                scheduler.schedule(this::requestEviction, EVICTION_RETRY.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private Evictor.Pass evictionPass() {
        synchronized (evicting) {
            try {
                return evictor.evictIfAbove(cache.highBytes(), cache.lowBytes());
            } catch (RuntimeException e) {
                if (!closed) {
                    log.warn("eviction failed", e);
                }
                return new Evictor.Pass(0, 0, 0, 0, storedBytes());
            }
        }
    }

    /** Stops scheduling; a pass in progress finishes on the storage executor (which the server drains). */
    @Override
    public void close() {
        closed = true;
        scheduler.shutdownNow();
    }

    /** The digests eviction keeps for the pins now (tests). */
    Set<Digest> pinnedDigests() {
        return pinnedDigests(pins, storage);
    }

    private static Set<Digest> pinnedDigests(LivePins pins, Storage storage) {
        return PinnedSet.resolve(pins.current().stream().map(PinnedImage::pin).toList(), storage.metadata(),
                storage.blobs());
    }
}
