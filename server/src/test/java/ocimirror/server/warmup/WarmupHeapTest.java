package ocimirror.server.warmup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * After a warm-up the heap its garbage made the JVM commit is given back, under the collector
 * {@code bin/ocimirror} runs (serial, which shrinks a generation in steps): in a forked JVM, an
 * old generation grown to ~48 MiB by data that then dies must come back near what is alive.
 */
class WarmupHeapTest {

    @Test
    void theOldGenerationAWarmUpGrewIsGivenBack() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-XX:+UseSerialGC", "-Xms8m", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), Grow.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        String[] mib = out.split(" ");
        long grown = Long.parseLong(mib[0]);
        long after = Long.parseLong(mib[1]);
        assertTrue(grown >= 40, "the old generation grew: " + out);
        assertTrue(after <= 12, "old generation committed (MiB) grown, then after compactHeap: " + out);
    }

    /** Grows the old generation with data that then dies, compacts, prints its committed MiB before and after. */
    static final class Grow {
        public static void main(String[] args) {
            List<byte[]> data = new ArrayList<>();
            for (int i = 0; i < 48; i++) {
                data.add(new byte[1 << 20]);
            }
            System.gc(); // promoted: the old generation grows to hold it
            long grown = oldCommittedMib();
            data.clear();
            Warmup.compactHeap();
            System.out.println(grown + " " + oldCommittedMib());
        }

        private static long oldCommittedMib() {
            long committed = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP && pool.getName().contains("Tenured")) {
                    committed += pool.getUsage().getCommitted();
                }
            }
            return committed >> 20;
        }
    }
}
