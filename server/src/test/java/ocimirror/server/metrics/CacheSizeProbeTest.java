package ocimirror.server.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import ocimirror.testing.PromText;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheSizeProbeTest {
    @TempDir
    Path dir;

    @Test
    void measuresTheRegularFilesUnderBlobsOneWalkAtATime() throws Exception {
        Path blobs = dir.resolve("blobs");
        assertArrayEquals(new long[] {0, 0}, CacheSizeProbe.measure(blobs), "no directory yet: empty");
        Files.createDirectories(blobs.resolve("sha256/ab"));
        Files.createDirectories(blobs.resolve("sha256/cd"));
        Files.write(blobs.resolve("sha256/ab/ab01"), new byte[1000]);
        Files.write(blobs.resolve("sha256/cd/cd02"), new byte[24]);

        try (MirrorMetrics metrics = new MirrorMetrics()) {
            assertEquals(Double.NaN, PromText.parse(metrics.scrape()).value("ocimirror_cache_size_bytes"),
                    "unknown before the first measurement");
            ArrayDeque<Runnable> storage = new ArrayDeque<>();
            CacheSizeProbe probe = new CacheSizeProbe(blobs, storage::add, metrics);
            probe.run();
            probe.run();
            assertEquals(1, storage.size(), "a walk is not started while one is queued or running");
            storage.poll().run();
            PromText m = PromText.parse(metrics.scrape());
            assertEquals(1024, m.value("ocimirror_cache_size_bytes"));
            assertEquals(2, m.value("ocimirror_cache_blobs"));
            probe.run();
            assertEquals(1, storage.size(), "the next period walks again");

            // A running total kept by the storage replaces the walk's bytes; evictions count both ways.
            metrics.cacheSizeSource(() -> 4096);
            metrics.evicted(100);
            metrics.evicted(28);
            m = PromText.parse(metrics.scrape());
            assertEquals(4096, m.value("ocimirror_cache_size_bytes"));
            assertEquals(2, m.value("ocimirror_cache_evictions_total"));
            assertEquals(128, m.value("ocimirror_cache_evicted_bytes_total"));
        }
    }
}
