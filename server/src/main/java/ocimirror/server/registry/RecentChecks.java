package ocimirror.server.registry;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * When a client last found a blob in a hosted repository (HEAD or GET), in memory only: a push
 * checks its blobs before it sends the manifest, and garbage collection must not unlink a blob in
 * between. Bounded; what falls out is at worst unlinked by a collection and uploaded again.
 */
final class RecentChecks {
    private static final Duration KEEP = Duration.ofHours(24);
    private static final long MAX = 200_000;

    private final Clock clock;
    private final Cache<String, Long> seen;

    RecentChecks(Clock clock) {
        this.clock = clock;
        this.seen = Caffeine.newBuilder().maximumSize(MAX).expireAfterWrite(KEEP).ticker(() -> {
            Instant now = clock.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        }).build();
    }

    void checked(RepoName repo, Digest digest) {
        seen.put(repo + "@" + digest, clock.millis());
    }

    boolean within(RepoName repo, Digest digest, Duration window) {
        Long at = seen.getIfPresent(repo + "@" + digest);
        return at != null && clock.millis() - at < window.toMillis();
    }
}
