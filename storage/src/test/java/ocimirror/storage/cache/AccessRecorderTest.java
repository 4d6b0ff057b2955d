package ocimirror.storage.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AccessRecorderTest {
    @TempDir
    Path dir;
    private StoreFixture f;
    private final List<Runnable> queued = new ArrayList<>();
    private final Executor storage = queued::add;

    @BeforeEach
    void open() throws Exception {
        f = new StoreFixture(dir);
    }

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void writesAtMostOncePerIntervalAndOnlyOnTheStorageExecutor() {
        Digest d = f.blob(RepoName.of("docker.io/library/alpine"), 10);
        long created = f.storage.metadata().getBlob(d).orElseThrow().lastAccess();
        AccessRecorder recorder = new AccessRecorder(f.storage.metadata(), storage, f.clock, Duration.ofMinutes(1));

        f.clock.advance(Duration.ofSeconds(5));
        for (int i = 0; i < 100; i++) {
            recorder.accessed(d);
        }
        assertEquals(1, queued.size(), "one write for a burst of hits");
        assertEquals(created, lastAccess(d), "nothing written on the calling thread");
        queued.remove(0).run();
        long first = lastAccess(d);
        assertEquals(created + 5000, first);

        f.clock.advance(Duration.ofSeconds(50));
        recorder.accessed(d);
        assertEquals(0, queued.size(), "still within the minute");
        f.clock.advance(Duration.ofSeconds(11));
        recorder.accessed(d);
        assertEquals(1, queued.size());
        queued.remove(0).run();
        assertEquals(first + 61_000, lastAccess(d));
        assertEquals(d, f.storage.index().lru(null, 10).get(0).digest());
    }

    private long lastAccess(Digest d) {
        return f.storage.metadata().getBlob(d).orElseThrow().lastAccess();
    }
}
