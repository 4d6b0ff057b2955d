package ocimirror.storage.meta;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * The tag and manifest records and the blob links in memory, so that a manifest GET (by tag or by
 * digest) and a blob GET read no database on a hit: those lookups are the whole metadata cost of a
 * pull's requests, and they run on an event loop, where a block the OS has dropped from its cache
 * would be a disk read (RocksDB) and a miss a network round trip (PostgreSQL). Absent records are
 * kept too (a miss asks the store once), and W-TinyLFU keeps a flood of unknown names from pushing
 * the hot ones out. Used inside {@link RocksMetadataStore} and by the PostgreSQL caching decorator.
 *
 * <p>Coherence: every write of a tag, manifest record or link invalidates its key <em>after</em>
 * the write (the PostgreSQL decorator also when another replica announces it). A load that read
 * the old value before that write cannot survive it, on two counts: Caffeine's {@code invalidate}
 * waits for a load of the same key in progress and then removes its result; and every
 * invalidation first bumps a generation (one per stripe of keys, all of them for
 * {@link #invalidateAll}), which a load reads before it asks the store and checks after its result
 * is in: if it moved, the load removes its own result. The second also covers what the first does
 * not: {@code invalidateAll} does not see a load in progress of a key not yet in the cache.
 * A caller that joined a load in progress gets its result even if an invalidation came in
 * meanwhile: the read it joined began before the write was known here.
 *
 * <p>Thread-safe; every method but the loads is a memory operation.
 */
public final class HotRecords {
    /** Per kind; a record with its key is a few hundred bytes, so the bound is a few MiB at most. */
    public static final int MAX_ENTRIES = 20_000;
    /** Generations per key stripe: an invalidation discards only the loads in progress of its stripe. */
    private static final int STRIPES = 64;

    public record TagKey(RepoName repo, String tag) {
    }

    /** A manifest of a repository, or a blob linked into it. */
    public record RepoDigest(RepoName repo, Digest digest) {
    }

    private final Cache<TagKey, Optional<TagRecord>> tags;
    private final Cache<RepoDigest, Optional<ManifestRecord>> manifests;
    private final Cache<RepoDigest, Boolean> links;
    private final AtomicLongArray generations = new AtomicLongArray(STRIPES);
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder invalidations = new LongAdder();

    public HotRecords() {
        this(MAX_ENTRIES);
    }

    /** {@code maxEntries} per kind. */
    public HotRecords(int maxEntries) {
        tags = Caffeine.newBuilder().maximumSize(maxEntries).build();
        manifests = Caffeine.newBuilder().maximumSize(maxEntries).build();
        links = Caffeine.newBuilder().maximumSize(maxEntries).build();
    }

    public Optional<TagRecord> tag(RepoName repo, String tag, Function<TagKey, Optional<TagRecord>> load) {
        return read(tags, new TagKey(repo, tag), load);
    }

    public Optional<ManifestRecord> manifest(RepoName repo, Digest digest,
                                             Function<RepoDigest, Optional<ManifestRecord>> load) {
        return read(manifests, new RepoDigest(repo, digest), load);
    }

    public boolean linked(RepoName repo, Digest digest, Function<RepoDigest, Boolean> load) {
        return read(links, new RepoDigest(repo, digest), load);
    }

    /**
     * A hit without the compute path's locking; a miss loads once, however many ask at once. A load
     * that failed is not cached (its exception reaches every caller waiting on it).
     */
    private <K, V> V read(Cache<K, V> cache, K key, Function<K, V> load) {
        V hit = cache.getIfPresent(key);
        if (hit != null) {
            hits.increment();
            return hit;
        }
        misses.increment();
        int stripe = stripe(key);
        long[] started = {0};
        boolean[] loaded = {false};
        V value = cache.get(key, k -> {
            started[0] = generations.get(stripe);
            loaded[0] = true;
            return load.apply(k);
        });
        if (loaded[0] && generations.get(stripe) != started[0]) {
            cache.asMap().remove(key, value); // an invalidation came in while it loaded
        }
        return value;
    }

    /** After a write of the tag. */
    public void tagChanged(RepoName repo, String tag) {
        invalidate(tags, new TagKey(repo, tag));
    }

    /** After a write of the manifest record. */
    public void manifestChanged(RepoName repo, Digest digest) {
        invalidate(manifests, new RepoDigest(repo, digest));
    }

    /** After a write or delete of the link. */
    public void linkChanged(RepoName repo, Digest digest) {
        invalidate(links, new RepoDigest(repo, digest));
    }

    /**
     * After the tags of {@code repo} pointing at {@code digest} were deleted (with the manifest),
     * when their names are not at hand: a scan of the tags in memory.
     */
    public void tagsOnChanged(RepoName repo, Digest digest) {
        tags.asMap().forEach((key, record) -> {
            if (key.repo().equals(repo) && record.isPresent() && record.get().digest().equals(digest)) {
                tagChanged(key.repo(), key.tag());
            }
        });
    }

    /** Forgets everything, loads in progress included: after changes that were not announced. */
    public void invalidateAll() {
        for (int i = 0; i < STRIPES; i++) {
            generations.incrementAndGet(i);
        }
        tags.invalidateAll();
        manifests.invalidateAll();
        links.invalidateAll();
        invalidations.increment();
    }

    private <K> void invalidate(Cache<K, ?> cache, K key) {
        generations.incrementAndGet(stripe(key));
        cache.invalidate(key);
        invalidations.increment();
    }

    private static int stripe(Object key) {
        return Math.floorMod(key.hashCode(), STRIPES);
    }

    /** Lookups answered from memory. */
    public long hits() {
        return hits.sum();
    }

    /** Lookups that asked the store (or joined a load in progress). */
    public long misses() {
        return misses.sum();
    }

    /** Keys invalidated, plus one per {@link #invalidateAll}. */
    public long invalidations() {
        return invalidations.sum();
    }
}
