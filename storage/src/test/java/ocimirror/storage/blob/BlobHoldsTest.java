package ocimirror.storage.blob;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;
import org.junit.jupiter.api.Test;

class BlobHoldsTest {
    private static final Digest D = Digest.sha256("d".getBytes(UTF_8));
    private final BlobHolds holds = new BlobHolds();

    @Test
    void holdsAreCountedAndBlockClaims() {
        BlobHolds.Hold a = holds.tryHold(D).orElseThrow();
        BlobHolds.Hold b = holds.tryHold(D).orElseThrow();
        assertEquals(2, holds.holders(D));
        assertFalse(holds.tryClaim(D));
        a.close();
        a.close(); // idempotent: does not release b's hold
        assertEquals(1, holds.holders(D));
        assertFalse(holds.tryClaim(D));
        b.close();
        assertEquals(0, holds.size());
        assertTrue(holds.tryClaim(D));
    }

    @Test
    void aClaimKeepsNewHoldsOutUntilReleased() {
        assertTrue(holds.tryClaim(D));
        assertTrue(holds.tryHold(D).isEmpty());
        assertFalse(holds.tryClaim(D));
        holds.releaseClaim(D);
        assertTrue(holds.tryHold(D).isPresent());
    }

    @Test
    void aWaitingHoldGetsInOnceTheDeletionIsOver() throws Exception {
        assertTrue(holds.tryClaim(D));
        CompletableFuture<BlobHolds.Hold> waiting = CompletableFuture.supplyAsync(() -> holds.hold(D));
        Thread.sleep(150);
        assertFalse(waiting.isDone(), "a hold must wait while the blob is being deleted");
        holds.releaseClaim(D);
        BlobHolds.Hold h = waiting.get(5, TimeUnit.SECONDS);
        assertEquals(1, holds.holders(D));
        h.close();
        assertEquals(0, holds.size());
    }
}
