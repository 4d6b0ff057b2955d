package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Streaming uploads: backpressure, ordering, disconnects and pipelining, with a hand-run executor. */
class UploadStreamingTest {
    @TempDir
    Path dir;
    final Queue<Runnable> tasks = new ArrayDeque<>();
    final Executor manual = tasks::add;
    Harness h;

    @AfterEach
    void close() {
        if (h != null) {
            h.close();
        }
    }

    /** Runs storage tasks and event-loop completions until both are idle. */
    void runAll() {
        for (int i = 0; i < 10_000 && !tasks.isEmpty(); i++) {
            tasks.poll().run();
            h.drain();
        }
        h.drain();
    }

    private long ingestFiles() throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve("ingest"))) {
            return s.count();
        }
    }

    @Test
    void readingPausesWhileWritesFallBehind() throws Exception {
        h = new Harness(dir, Harness.settings(true), manual);
        byte[] blob = new byte[5 * UploadBody.BATCH + 123];
        new Random(1).nextBytes(blob);
        Digest d = Digest.sha256(blob);
        HttpRequest post = Harness.request(HttpMethod.POST, "/v2/app/blobs/uploads/?digest=" + d);
        post.headers().set(HttpHeaderNames.CONTENT_LENGTH, blob.length);
        h.ch.writeInbound(post);
        int chunk = 64 * 1024;
        boolean sawPause = false;
        for (int off = 0; off < blob.length; off += chunk) {
            int len = Math.min(chunk, blob.length - off);
            h.ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(blob, off, len)));
            if (!h.ch.config().isAutoRead()) {
                sawPause = true;
                // The storage thread catches up; reading resumes.
                runAll();
                assertTrue(h.ch.config().isAutoRead());
            }
        }
        assertTrue(sawPause, "reading never paused with writes pending");
        h.ch.writeInbound(new DefaultLastHttpContent());
        runAll();
        Harness.Response r = h.response();
        assertEquals(201, r.status(), new String(r.body()));
        assertArrayEquals(blob, Files.readAllBytes(h.storage.blobs().stat(d).orElseThrow().path()));
        assertFalse(h.ch.finishAndReleaseAll());
    }

    @Test
    void uploadOverTheLimitWhileReadingIsPausedIsRefusedAndReadingResumes() throws Exception {
        h = new Harness(dir, new ocimirror.server.registry.RegistryService.Settings(4096, 3L * UploadBody.BATCH, true,
                java.time.Duration.ofHours(1)), manual);
        h.ch.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v2/app/blobs/uploads/"));
        runAll();
        String location = h.response().header(HttpHeaderNames.LOCATION);
        HttpRequest patch = Harness.request(HttpMethod.PATCH, location);
        patch.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        h.ch.writeInbound(patch);
        byte[] chunk = new byte[64 * 1024];
        int sent = 0;
        while (h.ch.config().isAutoRead() || sent < 4 * UploadBody.BATCH) {
            if (!h.ch.config().isAutoRead()) {
                tasks.poll().run(); // one write completes, reading goes on
                h.drain();
                continue;
            }
            h.ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(chunk)));
            sent += chunk.length;
        }
        runAll();
        Harness.Response r = h.response();
        assertEquals(413, r.status());
        assertEquals("SIZE_TOO_LARGE", r.code());
        assertTrue(h.ch.config().isAutoRead(), "reading must not stay paused after the refusal");
        assertEquals(0, h.service.uploads().openSessions());
        assertEquals(0, ingestFiles());
        h.ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(chunk)));
        h.ch.writeInbound(new DefaultLastHttpContent());
        assertEquals(200, h.send(HttpMethod.GET, "/v2/").status());
        assertFalse(h.ch.finishAndReleaseAll());
    }

    @Test
    void disconnectMidUploadCommitsNothing() throws Exception {
        h = new Harness(dir, Harness.settings(true), manual);
        byte[] blob = new byte[3 * UploadBody.BATCH];
        new Random(2).nextBytes(blob);
        Digest d = Digest.sha256(blob);
        HttpRequest post = Harness.request(HttpMethod.POST, "/v2/app/blobs/uploads/?digest=" + d);
        post.headers().set(HttpHeaderNames.CONTENT_LENGTH, blob.length);
        h.ch.writeInbound(post);
        h.ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(blob, 0, 2 * UploadBody.BATCH)));
        runAll();
        assertEquals(1, h.service.uploads().openSessions());
        assertEquals(1, ingestFiles());
        h.ch.close();
        runAll();
        assertEquals(0, h.service.uploads().openSessions());
        assertEquals(0, ingestFiles());
        assertTrue(h.storage.blobs().stat(d).isEmpty());
        assertNull(h.ch.readOutbound());
    }

    @Test
    void truncatedBodyOfAPatchKeepsTheSessionButCommitsNothing() throws Exception {
        h = new Harness(dir);
        String location = h.send(HttpMethod.POST, "/v2/app/blobs/uploads/").header(HttpHeaderNames.LOCATION);
        assertEquals(202, h.send(HttpMethod.PATCH, location, new byte[40]).status());
        HttpRequest put = Harness.request(HttpMethod.PUT, location + "?digest=" + Digest.sha256(new byte[100]));
        put.headers().set(HttpHeaderNames.CONTENT_LENGTH, 100);
        h.ch.writeInbound(put);
        h.ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[40])));
        // What the HTTP decoder emits when the connection closes before the declared length.
        LastHttpContent cut = new DefaultLastHttpContent();
        cut.setDecoderResult(DecoderResult.failure(new PrematureChannelClosureException()));
        h.ch.writeInbound(cut);
        h.drain();
        Harness.Response r = h.response();
        assertEquals(400, r.status());
        assertFalse(h.ch.isActive());
        assertTrue(h.storage.blobs().stat(Digest.sha256(new byte[100])).isEmpty());
        assertEquals(1, h.service.uploads().openSessions(), "a client's session survives for a resume");
        // Bytes still batched in memory are dropped: the offset reports what is on disk, so a
        // resume from there is exact.
        String id = location.substring(location.lastIndexOf('/') + 1);
        assertEquals(40, Files.size(dir.resolve("ingest").resolve(id)));
        assertEquals(40,
                h.service.uploads().status(ocimirror.storage.oci.RepoName.of("app"), id).offset());
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        h = new Harness(dir, Harness.settings(true), manual);
        // A catalog listing runs on the storage executor; the base check would answer inline.
        h.ch.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/_catalog"));
        h.ch.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/"));
        h.drain();
        assertNull(h.ch.readOutbound(), "nothing may overtake the pending catalog response");
        runAll();
        Harness.Response first = h.response();
        assertTrue(first.json().has("repositories"));
        Harness.Response second = h.response();
        assertEquals("{}", new String(second.body()));
        assertFalse(h.ch.finishAndReleaseAll());
    }

    @Test
    void saturatedStorageExecutorAnswers503() throws Exception {
        h = new Harness(dir, Harness.settings(true), r -> {
            throw new java.util.concurrent.RejectedExecutionException("full");
        });
        Harness.Response r = h.send(HttpMethod.GET, "/v2/_catalog");
        assertEquals(503, r.status());
        assertEquals("UNAVAILABLE", r.code());
        Harness.Response upload = h.send(HttpMethod.POST, "/v2/app/blobs/uploads/?digest=" + Digest.sha256(new byte[3]),
                new byte[3]);
        assertEquals(503, upload.status());
        assertFalse(h.ch.finishAndReleaseAll());
    }
}
