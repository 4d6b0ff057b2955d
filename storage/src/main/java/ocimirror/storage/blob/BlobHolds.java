package ocimirror.storage.blob;

import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;

/**
 * Who is using which committed blob, so that eviction and garbage collection never delete one
 * that is being read or written. A reader or writer takes a {@link Hold} on a digest (a count per
 * digest); a deleter takes a claim, which succeeds only when nobody holds the digest and keeps new
 * holds out until it is released. Whoever comes second backs off: a reader whose hold is refused
 * treats the blob as gone (and fetches it again), a deleter whose claim is refused skips the blob.
 *
 * <p>Deleting an open file is harmless on Linux (the reader keeps its inode), but the rule is
 * stronger: a blob some client is reading, or a writer is about to record, stays. Writers that
 * record metadata for a digest whose file may already exist (an upload of content the cache
 * holds, a manifest stored again) take their hold with {@link #hold}, which waits out a deletion
 * in progress, so that they never record a blob whose file is about to go.
 *
 * <p>Thread-safe, lock-free apart from {@link #hold}'s wait; memory is one map entry per digest in use.
 */
public final class BlobHolds {
    private static final int CLAIMED = -1;
    private static final long WAIT_MILLIS = 50;
    private static final long GIVE_UP_MILLIS = TimeUnit.SECONDS.toMillis(60);

    private final ConcurrentHashMap<Digest, Integer> counts = new ConcurrentHashMap<>();
    private final Object released = new Object();

    /** A hold on one digest; {@link #close} releases it (idempotent). */
    public interface Hold extends AutoCloseable {
        Digest digest();

        @Override
        void close();
    }

    /** A hold, or empty if the blob is being deleted right now (treat it as gone). Never blocks. */
    public Optional<Hold> tryHold(Digest digest) {
        int[] result = new int[1];
        counts.compute(digest, (d, v) -> {
            if (v != null && v == CLAIMED) {
                result[0] = CLAIMED;
                return v;
            }
            return v == null ? 1 : v + 1;
        });
        return result[0] == CLAIMED ? Optional.empty() : Optional.of(new Held(digest));
    }

    /**
     * A hold, waiting (on a storage thread, never an event loop) for a deletion of the digest in
     * progress to finish. After it returns, the blob's file is either whole or absent for good.
     */
    public Hold hold(Digest digest) {
        long deadline = System.currentTimeMillis() + GIVE_UP_MILLIS;
        while (true) {
            Optional<Hold> h = tryHold(digest);
            if (h.isPresent()) {
                return h.get();
            }
            synchronized (released) {
                if (Integer.valueOf(CLAIMED).equals(counts.get(digest))) {
                    try {
                        released.wait(WAIT_MILLIS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted waiting for the deletion of " + digest, e);
                    }
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("the deletion of " + digest + " did not finish in "
                        + GIVE_UP_MILLIS / 1000 + " s");
            }
        }
    }

    /** Claims the digest for deletion: true only if nobody holds or claims it. Release with {@link #releaseClaim}. */
    public boolean tryClaim(Digest digest) {
        return counts.putIfAbsent(digest, CLAIMED) == null;
    }

    /** Ends a claim taken with {@link #tryClaim}. */
    public void releaseClaim(Digest digest) {
        if (counts.remove(digest, CLAIMED)) {
            synchronized (released) {
                released.notifyAll();
            }
        }
    }

    /** How many hold the digest now (0 if none, or if it is claimed). */
    public int holders(Digest digest) {
        Integer v = counts.get(digest);
        return v == null || v == CLAIMED ? 0 : v;
    }

    /** Digests held or claimed now. */
    public int size() {
        return counts.size();
    }

    private void release(Digest digest) {
        counts.computeIfPresent(digest, (d, v) -> v <= 1 ? null : v - 1);
    }

    private final class Held implements Hold {
        private final Digest digest;
        private boolean closed;

        Held(Digest digest) {
            this.digest = digest;
        }

        @Override
        public Digest digest() {
            return digest;
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                release(digest);
            }
        }

        @Override
        public String toString() {
            return "Hold[" + digest + "]";
        }
    }
}
