package ocimirror.server.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PlainProgressTest {
    static final long MIB = 1 << 20;
    final StringWriter out = new StringWriter();
    final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    List<String> lines() {
        return out.toString().lines().toList();
    }

    void after(Duration d) {
        nanos.addAndGet(d.toNanos());
    }

    @Test
    void aLineEveryIntervalWithBytesRateAndEtaThenASummary() {
        PlainProgress p = new PlainProgress("import", new PrintWriter(out), Duration.ofSeconds(2), nanos::get);
        p.total(456 * MIB);
        after(Duration.ofSeconds(1));
        p.advance(45 * MIB);
        assertEquals(List.of(), lines(), "nothing before the interval");
        after(Duration.ofSeconds(1));
        p.advance(45 * MIB);
        after(Duration.ofMillis(500));
        p.advance(33 * MIB);
        assertEquals(List.of("import: 90 MiB / 456 MiB (19%), 45 MiB/s, ETA 9s"), lines());
        after(Duration.ofMillis(1500));
        p.advance(0);
        assertEquals("import: 123 MiB / 456 MiB (26%), 17 MiB/s, ETA 21s", lines().get(1), "the rate of the last interval");
        after(Duration.ofSeconds(4));
        p.advance(333 * MIB);
        p.close();
        p.close();
        assertEquals(List.of("import: 90 MiB / 456 MiB (19%), 45 MiB/s, ETA 9s",
                "import: 123 MiB / 456 MiB (26%), 17 MiB/s, ETA 21s",
                "import: 456 MiB / 456 MiB (100%), 83 MiB/s",
                "import: 456 MiB in 8s (57 MiB/s)"), lines());
    }

    @Test
    void withoutATotalThereIsNoPercentageNorEta() {
        PlainProgress p = new PlainProgress("prefetch", new PrintWriter(out), Duration.ZERO, nanos::get);
        after(Duration.ofSeconds(1));
        p.advance(1536);
        assertEquals(List.of("prefetch: 1.5 KiB, 1.5 KiB/s"), lines());
    }

    @Test
    void sizesAndDurationsReadEasily() {
        assertEquals("512 B", PlainProgress.size(512));
        assertEquals("3.4 MiB", PlainProgress.size((long) (3.4 * MIB)));
        assertEquals("1.5 GiB", PlainProgress.size(1536 * MIB));
        assertEquals("2m05s", PlainProgress.duration(125));
        assertEquals("1h02m", PlainProgress.duration(3720));
    }
}
