package ocimirror.server.pullthrough;

import java.util.concurrent.atomic.LongAdder;

/** The live counters behind {@link PullThroughStats}. */
final class Counters {
    final LongAdder staleServed = new LongAdder();
    final LongAdder manifestGets = new LongAdder();
    final LongAdder manifestHeads = new LongAdder();
    final LongAdder coalesced = new LongAdder();
    final LongAdder negativeHits = new LongAdder();
    final LongAdder prefetches = new LongAdder();
}
