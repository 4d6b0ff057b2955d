package ocimirror.storage.meta;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.Optional;
import java.util.function.Function;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * The tag and manifest records and the blob links in memory, so that a manifest GET (by tag or by
 * digest) and a blob GET read no RocksDB on a hit: those lookups are the whole metadata cost of a
 * pull's requests, and they run on an event loop, where a block the OS has dropped from its cache
 * would be a disk read. Absent records are kept too (a miss asks RocksDB once), and W-TinyLFU keeps
 * a flood of unknown names from pushing the hot ones out.
 *
 * <p>Coherence: every write of a tag, manifest record or link invalidates its key <em>after</em>
 * the RocksDB write. A load that read the old value before that write cannot survive it:
 * Caffeine's {@code invalidate} waits for a load of the same key in progress and then removes its
 * result.
 */
final class HotRecords {
    /** Per kind; a record with its key is a few hundred bytes, so the bound is a few MiB at most. */
    static final int MAX_ENTRIES = 20_000;

    record TagKey(RepoName repo, String tag) {
    }

    /** A manifest of a repository, or a blob linked into it. */
    record RepoDigest(RepoName repo, Digest digest) {
    }

    private final Cache<TagKey, Optional<TagRecord>> tags =
            Caffeine.newBuilder().maximumSize(MAX_ENTRIES).build();
    private final Cache<RepoDigest, Optional<ManifestRecord>> manifests =
            Caffeine.newBuilder().maximumSize(MAX_ENTRIES).build();
    private final Cache<RepoDigest, Boolean> links = Caffeine.newBuilder().maximumSize(MAX_ENTRIES).build();

    Optional<TagRecord> tag(RepoName repo, String tag, Function<TagKey, Optional<TagRecord>> load) {
        return read(tags, new TagKey(repo, tag), load);
    }

    Optional<ManifestRecord> manifest(RepoName repo, Digest digest,
                                      Function<RepoDigest, Optional<ManifestRecord>> load) {
        return read(manifests, new RepoDigest(repo, digest), load);
    }

    boolean linked(RepoName repo, Digest digest, Function<RepoDigest, Boolean> load) {
        return read(links, new RepoDigest(repo, digest), load);
    }

    /** A hit without the compute path's locking; a miss loads once, however many ask at once. */
    private static <K, V> V read(Cache<K, V> cache, K key, Function<K, V> load) {
        V hit = cache.getIfPresent(key);
        return hit != null ? hit : cache.get(key, load);
    }

    /** After a write of the tag. */
    void tagChanged(RepoName repo, String tag) {
        tags.invalidate(new TagKey(repo, tag));
    }

    /** After a write of the manifest record. */
    void manifestChanged(RepoName repo, Digest digest) {
        manifests.invalidate(new RepoDigest(repo, digest));
    }

    /** After a write or delete of the link. */
    void linkChanged(RepoName repo, Digest digest) {
        links.invalidate(new RepoDigest(repo, digest));
    }
}
