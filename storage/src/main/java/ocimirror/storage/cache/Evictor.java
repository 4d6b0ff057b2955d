package ocimirror.storage.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.function.Supplier;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.LruEntry;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the committed blobs under the cache bound: once their total passes the high watermark,
 * deletes least-recently-used blobs until it is under the low one. Skipped, never deleted:
 * <ul>
 *   <li>a blob someone holds ({@link BlobHolds}: a client reading it, a writer recording it);</li>
 *   <li>a blob a pinned image needs ({@code pinned}, resolved once per pass);</li>
 *   <li>hosted content: a blob linked, or stored as a manifest, in any repository that is not a
 *       cache repository ({@code isCacheRepo} false). That is checked atomically with the removal
 *       ({@link CacheIndex#removeBlob}), and hosted writers hold the digest while they link it, so
 *       a push that links a cached blob meanwhile wins.</li>
 * </ul>
 * Removing a blob drops, in one batch, its record, its eviction-order entry, its links and every
 * manifest stored under its digest in cache repositories, with the tags pointing at it: the next
 * request for such a tag or manifest goes upstream again. The file goes after the metadata, so a
 * crash in between leaves a file nothing points at (what {@code verify --repair} removes), never
 * metadata pointing at a missing file.
 *
 * <p>One pass at a time, on the caller's thread (a storage thread: it writes RocksDB and deletes
 * files). Not thread-safe for concurrent {@link #evict} calls; the scheduler serialises them.
 */
public final class Evictor {
    private static final Logger log = LoggerFactory.getLogger(Evictor.class);
    private static final int PAGE = 256;

    private final CacheIndex index;
    private final BlobStore blobs;
    private final Clock clock;
    private final Predicate<RepoName> isCacheRepo;
    private final Supplier<Set<Digest>> pinned;
    private final List<EvictionListener> listeners = new CopyOnWriteArrayList<>();

    /** Told of every blob evicted (metrics). Called on the evicting thread; must not block. */
    @FunctionalInterface
    public interface EvictionListener {
        void evicted(Digest digest, long size);
    }

    /**
     * What one pass did.
     *
     * @param evicted blobs deleted
     * @param freed   their bytes
     * @param held    blobs skipped because someone held them
     * @param kept    blobs skipped because pinned or hosted
     * @param total   the total after the pass
     */
    public record Pass(int evicted, long freed, int held, int kept, long total) {
        static final Pass NOTHING = new Pass(0, 0, 0, 0, -1);
    }

    /**
     * @param isCacheRepo true for repositories of proxied content (eviction may drop their links and
     *                    manifests); any other repository holding a blob makes it hosted
     * @param pinned      the digests pinned images need, asked once per pass
     */
    public Evictor(CacheIndex index, BlobStore blobs, Clock clock, Predicate<RepoName> isCacheRepo,
                   Supplier<Set<Digest>> pinned) {
        this.index = requireNonNull(index, "index");
        this.blobs = requireNonNull(blobs, "blobs");
        this.clock = requireNonNull(clock, "clock");
        this.isCacheRepo = requireNonNull(isCacheRepo, "isCacheRepo");
        this.pinned = requireNonNull(pinned, "pinned");
    }

    public void addListener(EvictionListener listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /** A pass if the total is above {@code highBytes}, down to {@code lowBytes}; else nothing. */
    public Pass evictIfAbove(long highBytes, long lowBytes) {
        return index.blobBytes() > highBytes ? evict(lowBytes) : new Pass(0, 0, 0, 0, index.blobBytes());
    }

    /** Deletes least-recently-used evictable blobs until the total is at most {@code targetBytes} or none is left. */
    public Pass evict(long targetBytes) {
        long start = index.blobBytes();
        if (start <= targetBytes) {
            return new Pass(0, 0, 0, 0, start);
        }
        Set<Digest> keep = pinned.get();
        BlobHolds holds = blobs.holds();
        int evicted = 0;
        int held = 0;
        int kept = 0;
        long freed = 0;
        LruEntry after = null;
        outer:
        while (index.blobBytes() > targetBytes) {
            List<LruEntry> page = index.lru(after, PAGE);
            if (page.isEmpty()) {
                break;
            }
            for (LruEntry e : page) {
                after = e;
                if (index.blobBytes() <= targetBytes) {
                    break outer;
                }
                Digest d = e.digest();
                if (keep.contains(d)) {
                    kept++;
                    continue;
                }
                if (!holds.tryClaim(d)) {
                    held++;
                    continue;
                }
                try {
                    Optional<BlobRecord> removed = index.removeBlob(d, isCacheRepo);
                    if (removed.isEmpty()) {
                        // Hosted: never evicted, and nobody records its reads. Moved to the recent end
                        // so that the next passes do not walk past it again before older cache blobs.
                        kept++;
                        index.touchBlob(d, clock.millis());
                        continue;
                    }
                    deleteFile(d);
                    evicted++;
                    freed += removed.get().size();
                    for (EvictionListener l : listeners) {
                        try {
                            l.evicted(d, removed.get().size());
                        } catch (RuntimeException ex) {
                            log.warn("eviction listener failed", ex);
                        }
                    }
                } finally {
                    holds.releaseClaim(d);
                }
            }
        }
        long total = index.blobBytes();
        if (evicted > 0) {
            log.info("evicted {} blob(s), {} bytes; {} bytes stored ({} in use, {} pinned or hosted skipped)",
                    evicted, freed, total, held, kept);
        }
        if (total > targetBytes) {
            log.debug("eviction stopped at {} bytes, above {}: {} held, {} pinned or hosted", total, targetBytes,
                    held, kept);
        }
        return new Pass(evicted, freed, held, kept, total);
    }

    private void deleteFile(Digest d) {
        try {
            blobs.delete(d);
        } catch (IOException e) {
            // The metadata is gone already: the file is an orphan that verify --repair removes.
            log.warn("evicted {} but could not delete its file: {}", d, e.toString());
        }
    }
}
