package ocimirror.storage.cache;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records blob reads for the eviction order cheaply: at most one write per blob per
 * {@code interval} (a minute in the server), and that write runs on the storage executor, so a
 * cache hit on an event loop costs one in-memory lookup. The throttle is a Caffeine map that
 * forgets a digest {@code interval} after its last recorded write (measured with the injected
 * clock, so tests move time instead of sleeping).
 *
 * <p>Thread-safe. A lost write (executor saturated, shutdown) only makes the blob look older.
 */
public final class AccessRecorder {
    private static final Logger log = LoggerFactory.getLogger(AccessRecorder.class);
    public static final Duration DEFAULT_INTERVAL = Duration.ofMinutes(1);
    private static final long MAX_TRACKED = 1_000_000;

    private final MetadataStore metadata;
    private final Executor storage;
    private final Clock clock;
    private final Cache<Digest, Boolean> recent;

    public AccessRecorder(MetadataStore metadata, Executor storage, Clock clock, Duration interval) {
        this.metadata = requireNonNull(metadata, "metadata");
        this.storage = requireNonNull(storage, "storage");
        this.clock = requireNonNull(clock, "clock");
        this.recent = Caffeine.newBuilder().maximumSize(MAX_TRACKED).expireAfterWrite(interval)
                .ticker(() -> {
                    Instant now = clock.instant();
                    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
                }).build();
    }

    /** Notes a read of {@code digest}; writes its last access unless that was done within the interval. */
    public void accessed(Digest digest) {
        if (recent.asMap().putIfAbsent(digest, Boolean.TRUE) != null) {
            return;
        }
        long now = clock.millis();
        try {
            storage.execute(() -> {
                try {
                    metadata.touchBlob(digest, now);
                } catch (RuntimeException e) {
                    log.debug("recording the access of {}: {}", digest, e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            recent.invalidate(digest); // try again on the next hit
        }
    }
}
