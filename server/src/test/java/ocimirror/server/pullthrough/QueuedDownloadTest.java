package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.storage.oci.Digest;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a blob download tells the upstream's connection queue ({@code maxConnections}): whether a
 * client waits for it (prefetch yields to clients), and that it leaves the queue when its last
 * client is gone before it had a turn.
 */
class QueuedDownloadTest {
    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ScriptedUpstream upstream = new ScriptedUpstream("up");
    final UpstreamConfig config = UpstreamConfig.builder("up", "http://upstream.test").plainHttp(true).build();
    final RepoTarget.Proxied target = ScriptedService.target(config);
    final Digest digest = Digest.sha256(new byte[] {1, 2, 3});
    ScriptedService running;
    PullThroughService service;

    @BeforeEach
    void open() throws IOException {
        running = ScriptedService.open(dir, clock, upstream);
        service = running.service;
    }

    @AfterEach
    void close() throws InterruptedException {
        running.close();
    }

    @Test
    void aPrefetchWaitsBehindClientsUntilAClientJoinsIt() throws Exception {
        service.prefetchBlob(target, digest);
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        assertFalse(t.clientWaiting(), "background work only");
        CompletableFuture<BlobSource> client = service.blob(target, digest);
        assertTrue(t.clientWaiting(), "a client joined: it goes ahead of other prefetches now");
        client.cancel(false);
        assertFalse(t.cancelled(), "the prefetch still wants it");
        assertEquals(1, service.inflight().size());
    }

    @Test
    void aClientThatLeavesWhileTheDownloadIsQueuedTakesItOutOfTheQueue() throws Exception {
        CompletableFuture<BlobSource> first = service.blob(target, digest);
        CompletableFuture<BlobSource> second = service.blob(target, digest);
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        assertTrue(t.clientWaiting());
        first.cancel(false);
        assertFalse(t.cancelled(), "another client still waits");
        second.cancel(false);
        assertTrue(t.cancelled(), "nobody wants it: it leaves the queue");
        assertEquals(0, service.inflight().size());
        assertNull(service.inflight().get(digest));

        // The next request starts afresh.
        service.blob(target, digest);
        assertFalse(upstream.nextTransfer().cancelled());
        assertEquals(2, upstream.blobFetches.get());
    }

    @Test
    void withAStoreThatMayBlockALeavingClientStillTakesTheDownloadOutOfTheQueue() throws Exception {
        running.close();
        running = ScriptedService.open(dir.resolve("blocking"), clock, upstream, true);
        service = running.service;
        CompletableFuture<BlobSource> client = service.blob(target, digest); // started on the executor
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        client.cancel(false);
        // The cancel may come before the executor's part returned: it is passed on when it does.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!t.cancelled() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertTrue(t.cancelled(), "the cancel reached the download the executor started");
        assertEquals(0, service.inflight().size());
    }

    @Test
    void onceItHasItsTurnTheDownloadRunsOnWithoutClients() throws Exception {
        CompletableFuture<BlobSource> client = service.blob(target, digest);
        ScriptedUpstream.Transfer t = upstream.nextTransfer().turn();
        BlobFetch fetch = service.inflight().get(digest);
        client.cancel(false);
        assertFalse(t.cancelled(), "under way: it goes on for the cache");
        t.start(3).send(new byte[] {1, 2, 3}).complete();
        assertEquals(digest, fetch.committed().get(5, TimeUnit.SECONDS).digest());
    }
}
