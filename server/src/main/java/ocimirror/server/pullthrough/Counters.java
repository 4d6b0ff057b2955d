package ocimirror.server.pullthrough;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** The live counters behind {@link PullThroughStats}. */
final class Counters {
    final LongAdder staleServed = new LongAdder();
    final LongAdder manifestGets = new LongAdder();
    final LongAdder manifestHeads = new LongAdder();
    final LongAdder coalesced = new LongAdder();
    final LongAdder negativeHits = new LongAdder();
    final LongAdder prefetches = new LongAdder();
    /** Upstream name → answers to manifest requests refused as not a manifest. */
    final ConcurrentHashMap<String, LongAdder> invalidManifests = new ConcurrentHashMap<>();

    void invalidManifest(String upstream) {
        invalidManifests.computeIfAbsent(upstream, u -> new LongAdder()).increment();
    }

    long invalidManifests(String upstream) {
        LongAdder n = invalidManifests.get(upstream);
        return n == null ? 0 : n.sum();
    }
}
