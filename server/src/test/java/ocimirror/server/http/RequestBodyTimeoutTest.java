package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.concurrent.MockTicker;
import io.netty.util.concurrent.Ticker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code limits.requestBodyTimeout}: the registry handler behind the production idle handler, on a mock ticker. */
class RequestBodyTimeoutTest {
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;
    final MockTicker ticker = Ticker.newMockTicker();
    final Queue<Runnable> tasks = new ArrayDeque<>();
    Harness h;

    @AfterEach
    void close() {
        if (h != null) {
            assertFalse(h.ch.finishAndReleaseAll());
            h.close();
        }
    }

    void open(Executor executor) throws Exception {
        h = new Harness(dir, Harness.settings(true), executor, TIMEOUT, ticker);
    }

    void advance(Duration d) {
        ticker.advance(d.toNanos(), TimeUnit.NANOSECONDS);
        h.ch.runScheduledPendingTasks();
        h.drain();
    }

    void runAll() {
        for (int i = 0; i < 10_000 && !tasks.isEmpty(); i++) {
            tasks.poll().run();
            h.drain();
        }
        h.drain();
    }

    long ingestFiles() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("ingest"))) {
            return s.count();
        }
    }

    void chunk(byte[] b) {
        h.ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(b)));
    }

    @Test
    void aStalledPatchGets408AndItsSessionStaysResumable() throws Exception {
        open(Runnable::run);
        String location = h.send(HttpMethod.POST, "/v2/app/blobs/uploads/").header(HttpHeaderNames.LOCATION);
        HttpRequest patch = Harness.request(HttpMethod.PATCH, location);
        patch.headers().set(HttpHeaderNames.CONTENT_LENGTH, 3 * UploadBody.BATCH);
        h.ch.writeInbound(patch);
        chunk(new byte[UploadBody.BATCH]);   // a whole batch: written to the session's file
        chunk(new byte[100]);                // held in memory, dropped on the stall
        advance(TIMEOUT.minusMillis(1));
        assertTrue(h.ch.isActive(), "cut before the body timeout");
        assertNull(h.ch.readOutbound());
        advance(Duration.ofMillis(1));
        Harness.Response r = h.response();
        assertEquals(408, r.status());
        assertEquals("REQUEST_TIMEOUT", r.code());
        assertEquals("close", r.header(HttpHeaderNames.CONNECTION));
        assertFalse(h.ch.isActive());
        String id = location.substring(location.lastIndexOf('/') + 1);
        assertEquals(1, h.service.uploads().openSessions(), "a client's session survives for a resume");
        assertEquals(UploadBody.BATCH, h.service.uploads().status(RepoName.of("app"), id).offset());
    }

    @Test
    void aStalledMonolithicUploadLeavesNoIngestFile() throws Exception {
        open(tasks::add);
        byte[] blob = new byte[3 * UploadBody.BATCH];
        new Random(4).nextBytes(blob);
        Digest d = Digest.sha256(blob);
        HttpRequest post = Harness.request(HttpMethod.POST, "/v2/app/blobs/uploads/?digest=" + d);
        post.headers().set(HttpHeaderNames.CONTENT_LENGTH, blob.length);
        h.ch.writeInbound(post);
        chunk(java.util.Arrays.copyOf(blob, UploadBody.BATCH));
        runAll();
        assertEquals(1, ingestFiles());
        advance(TIMEOUT);
        runAll();
        assertEquals(408, h.response().status());
        assertFalse(h.ch.isActive());
        assertEquals(0, h.service.uploads().openSessions());
        assertEquals(0, ingestFiles());
        assertTrue(h.storage.blobs().stat(d).isEmpty());
    }

    @Test
    void quietWhileThisSideStoppedReadingIsNotAStall() throws Exception {
        open(tasks::add);
        byte[] blob = new byte[5 * UploadBody.BATCH];
        new Random(5).nextBytes(blob);
        Digest d = Digest.sha256(blob);
        HttpRequest post = Harness.request(HttpMethod.POST, "/v2/app/blobs/uploads/?digest=" + d);
        post.headers().set(HttpHeaderNames.CONTENT_LENGTH, blob.length);
        h.ch.writeInbound(post);
        int off = 0;
        while (h.ch.config().isAutoRead()) {   // until storage falls behind and reading pauses
            chunk(java.util.Arrays.copyOfRange(blob, off, off + 64 * 1024));
            off += 64 * 1024;
        }
        // Storage stuck for three body timeouts, all but a millisecond (in steps: each reader-idle
        // check comes a whole period after the previous one).
        advance(TIMEOUT);
        advance(TIMEOUT);
        advance(TIMEOUT.minusMillis(1));
        assertTrue(h.ch.isActive());
        runAll();                              // it catches up; reading resumes
        assertTrue(h.ch.config().isAutoRead());
        advance(Duration.ofMillis(1));         // a reader-idle check right after the resume
        assertTrue(h.ch.isActive(), "the server's own pause was taken for the client's stall");
        assertNull(h.ch.readOutbound());
        for (; off < blob.length; off += 64 * 1024) {
            chunk(java.util.Arrays.copyOfRange(blob, off, Math.min(blob.length, off + 64 * 1024)));
            runAll();
        }
        h.ch.writeInbound(new DefaultLastHttpContent());
        runAll();
        assertEquals(201, h.response().status());
    }

    @Test
    void aBodyStalledAfterAnEarlyResponseIsCutWithoutA408() throws Exception {
        open(Runnable::run);
        HttpRequest put = Harness.request(HttpMethod.PUT, "/v2/app/manifests/v1");
        put.headers().set(HttpHeaderNames.CONTENT_LENGTH, 1 << 20);   // over the harness's 4096-byte manifest limit
        h.ch.writeInbound(put);
        chunk(new byte[10]);
        assertEquals(413, h.response().status());
        assertTrue(h.ch.isActive());
        advance(TIMEOUT);
        assertFalse(h.ch.isActive());
        assertNull(h.ch.readOutbound(), "a second response to one request");
    }

    @Test
    void anIdleKeepAliveConnectionIsLeftToTheIdleTimeout() throws Exception {
        open(Runnable::run);
        assertEquals(200, h.send(HttpMethod.GET, "/v2/").status());
        advance(TIMEOUT.multipliedBy(10));
        assertTrue(h.ch.isActive());
        assertEquals(200, h.send(HttpMethod.GET, "/v2/").status());
    }
}
