package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link TokenBucket} on a hand-advanced clock. */
class TokenBucketTest {
    long now;
    final TokenBucket bucket = new TokenBucket(1 << 20, () -> now); // 1 MiB/s, a burst of 100 ms

    @Test
    void aBurstPassesThenReadsPauseForTheirDebt() {
        assertEquals(0, bucket.take(100 << 10), "within the 102.4 KiB burst");
        long wait = bucket.take(64 << 10);
        // 100 KiB + 64 KiB - 102.4 KiB = 61.6 KiB of debt: 60.16 ms at 1 MiB/s
        assertEquals(60_156_250, wait, 1);
        now += wait;
        assertEquals(TimeUnit.MILLISECONDS.toNanos(1000), bucket.take(1 << 20), 1, "paid back: a MiB more costs a second");
        assertEquals(60_156_250 + 1_000_000_000, bucket.pausedNanos(), 2);
    }

    @Test
    void overTimeTheRateHoldsWhateverTheReadSizes() {
        long bytes = 0;
        int[] sizes = {65536, 1000, 32768, 8192, 65536, 4096};
        for (int i = 0; bytes < 10 << 20; i++) {
            int n = sizes[i % sizes.length];
            bytes += n;
            now += bucket.take(n); // a download that waits as told, and reads at once otherwise
        }
        double seconds = now / 1e9;
        // 10 MiB at 1 MiB/s, less the initial burst and the last read's unpaid debt
        assertEquals(10.0, seconds, 0.2);
    }

    @Test
    void idleTimeRefillsOnlyUpToTheBurst() {
        bucket.take(1 << 20);
        now += TimeUnit.SECONDS.toNanos(60);
        assertEquals(0, bucket.take(104857), "a full burst");
        assertEquals(TimeUnit.MILLISECONDS.toNanos(100), bucket.take(104858), TimeUnit.MICROSECONDS.toNanos(100),
                "a minute idle is not a minute of credit");
    }
}
