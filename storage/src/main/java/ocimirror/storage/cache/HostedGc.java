package ocimirror.storage.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.function.Predicate;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.LinkRecord;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Garbage collection of hosted repositories, safe to run while clients push:
 * <ol>
 *   <li><b>Mark and unlink</b>, one hosted repository at a time under its lock
 *       ({@link MetadataStore#inRepoLock}, which manifest pushes take too): the repository's
 *       manifests and everything they reference ({@link ManifestRefs}) are marked; a link to an
 *       unmarked blob is removed if it is older than the grace period and no client checked that
 *       blob in that repository within it ({@code recentlyChecked}: a client that saw the blob
 *       exist skips uploading it and pushes a manifest next). A push uploads its blobs before
 *       its manifest, so the grace period is what keeps a push in progress whole.</li>
 *   <li><b>Sweep</b>: a blob record that no repository links or holds as a manifest any more and
 *       that is older than the grace period is deleted, metadata first, then the file, under a
 *       claim ({@link BlobHolds}) and only if still unreferenced at that moment (a writer linking
 *       it holds it). One sequential scan of the blob records.</li>
 * </ol>
 * Cache repositories are left to eviction. Runs on the caller's thread (a storage thread, or the
 * offline {@code ocimirror gc}); one run at a time.
 */
public final class HostedGc {
    private static final Logger log = LoggerFactory.getLogger(HostedGc.class);

    private final MetadataStore metadata;
    private final CacheIndex index;
    private final BlobStore blobs;
    private final Clock clock;
    private final Duration grace;
    private final Predicate<RepoName> isHosted;
    private final BiPredicate<RepoName, Digest> recentlyChecked;

    /** What one run did. */
    public record Run(int repositories, int unlinked, int deleted, long freed) {
    }

    /**
     * @param isHosted        which repositories to collect (the others are caches)
     * @param recentlyChecked whether a client checked (HEAD/GET) the blob in the repository within
     *                        the grace period; {@code (r, d) -> false} offline
     */
    public HostedGc(MetadataStore metadata, CacheIndex index, BlobStore blobs, Clock clock, Duration grace,
                    Predicate<RepoName> isHosted, BiPredicate<RepoName, Digest> recentlyChecked) {
        this.metadata = requireNonNull(metadata, "metadata");
        this.index = requireNonNull(index, "index");
        this.blobs = requireNonNull(blobs, "blobs");
        this.clock = requireNonNull(clock, "clock");
        this.grace = requireNonNull(grace, "grace");
        this.isHosted = requireNonNull(isHosted, "isHosted");
        this.recentlyChecked = requireNonNull(recentlyChecked, "recentlyChecked");
    }

    public Run run() {
        long cutoff = clock.millis() - grace.toMillis();
        int repos = 0;
        int unlinked = 0;
        for (RepoName repo : index.repositories()) {
            if (!isHosted.test(repo)) {
                continue;
            }
            repos++;
            unlinked += metadata.inRepoLock(repo, () -> unlinkUnreferenced(repo, cutoff));
        }
        List<Digest> candidates = new ArrayList<>();
        index.forEachBlob(r -> {
            if (r.createdAt() < cutoff && index.refs(r.digest()).isEmpty()) {
                candidates.add(r.digest());
            }
        });
        int deleted = 0;
        long freed = 0;
        BlobHolds holds = blobs.holds();
        for (Digest d : candidates) {
            if (!holds.tryClaim(d)) {
                continue;
            }
            try {
                Optional<BlobRecord> removed = index.removeBlob(d, r -> false);
                if (removed.isEmpty()) {
                    continue; // linked again meanwhile
                }
                try {
                    blobs.delete(d);
                } catch (IOException e) {
                    log.warn("collected {} but could not delete its file: {}", d, e.toString());
                }
                deleted++;
                freed += removed.get().size();
            } finally {
                holds.releaseClaim(d);
            }
        }
        if (unlinked > 0 || deleted > 0) {
            log.info("garbage collection: {} hosted repositories, {} unreferenced link(s) removed, {} blob(s) deleted"
                    + " ({} bytes)", repos, unlinked, deleted, freed);
        }
        return new Run(repos, unlinked, deleted, freed);
    }

    /** Under the repository's lock: marks what its manifests reference, unlinks old unmarked links. */
    private int unlinkUnreferenced(RepoName repo, long cutoff) {
        Set<Digest> marked = new HashSet<>();
        for (ManifestRecord m : index.manifests(repo)) {
            marked.add(m.digest());
            Optional<byte[]> bytes = PinnedSet.read(blobs, m.digest());
            bytes.ifPresent(b -> marked.addAll(ManifestRefs.of(b)));
        }
        int n = 0;
        for (LinkRecord l : index.links(repo)) {
            if (!marked.contains(l.digest()) && l.linkedAt() < cutoff && !recentlyChecked.test(repo, l.digest())
                    && index.unlinkIfOlder(repo, l.digest(), cutoff)) {
                n++;
            }
        }
        return n;
    }
}
