package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Blob downloads against an upstream the test drives byte by byte: sharing, integrity (a wrong or
 * truncated body is never committed and the next request tries again), independence from the
 * readers, and the negative cache.
 */
class BlobDownloadTest {
    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ScriptedUpstream upstream = new ScriptedUpstream("up");
    final UpstreamConfig config = UpstreamConfig.builder("up", "http://upstream.test").plainHttp(true).build();
    final RepoTarget.Proxied target = ScriptedService.target(config);
    ScriptedService running;
    Storage storage;
    PullThroughService service;

    @BeforeEach
    void open() throws IOException {
        running = ScriptedService.open(dir, clock, upstream);
        storage = running.storage;
        service = running.service;
    }

    @AfterEach
    void close() throws InterruptedException {
        running.close();
    }

    @Test
    void concurrentRequestsShareOneDownloadAndEveryReaderGetsTheBytes() throws Exception {
        byte[] body = random(300_000, 1);
        Digest digest = Digest.sha256(body);
        List<CompletableFuture<BlobSource>> requests = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            requests.add(service.blob(target, digest));
        }
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        t.start(body.length);
        List<CompletableFuture<byte[]>> readers = new ArrayList<>();
        for (CompletableFuture<BlobSource> r : requests) {
            BlobSource source = r.get(5, TimeUnit.SECONDS);
            BlobFetch fetch = assertInstanceOf(BlobSource.Downloading.class, source).fetch();
            readers.add(CompletableFuture.supplyAsync(() -> readToEnd(fetch)));
        }
        t.sendAll(body, 7);
        for (CompletableFuture<byte[]> reader : readers) {
            assertArrayEquals(body, reader.get(10, TimeUnit.SECONDS));
        }
        assertEquals(1, upstream.blobFetches.get());
        assertEquals(1, service.stats().blobFetches());
        assertTrue(storage.blobs().stat(digest).isPresent());
        awaitTrue(() -> storage.metadata().isBlobLinked(target.repo(), digest), "blob linked into the proxied repo");
        assertTrue(storage.metadata().getBlob(digest).isPresent());
        // Now it is a plain cache hit: no download, the committed file.
        BlobSource again = service.blob(target, digest).get(5, TimeUnit.SECONDS);
        assertEquals(digest, assertInstanceOf(BlobSource.Stored.class, again).blob().digest());
        assertEquals(1, upstream.blobFetches.get());
    }

    @Test
    void wrongBytesAreNeverCommittedAndTheNextRequestFetchesAgain() throws Exception {
        byte[] body = random(100_000, 2);
        Digest digest = Digest.sha256(body);
        byte[] lie = body.clone();
        lie[50_000] ^= 1;

        BlobFetch fetch = downloading(service.blob(target, digest), upstream.nextTransfer(), body.length);
        CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() -> readToEnd(fetch));
        FileChannel idle = fetch.openReader(); // a reader that never reads does not hold the download back
        fetchTransfer().sendAll(lie, 12);

        ExecutionException e = assertThrows(ExecutionException.class, () -> fetch.committed().get(5, TimeUnit.SECONDS));
        assertEquals(OciError.DIGEST_INVALID, assertInstanceOf(OciException.class, e.getCause()).error());
        assertThrows(ExecutionException.class, () -> reader.get(5, TimeUnit.SECONDS), "the reader must see the failure");
        idle.close();
        assertNothingStored(digest);

        // The next request downloads again, and this time the upstream tells the truth.
        BlobFetch second = downloading(service.blob(target, digest), upstream.nextTransfer(), body.length);
        fetchTransfer().sendAll(body, 12);
        assertEquals(digest, second.committed().get(5, TimeUnit.SECONDS).digest());
        assertEquals(2, upstream.blobFetches.get());
        assertArrayEquals(body, Files.readAllBytes(storage.blobs().stat(digest).orElseThrow().path()));
    }

    @Test
    void aBodyCutShortIsAbandonedAndReadersSeeIt() throws Exception {
        byte[] body = random(64_000, 3);
        Digest digest = Digest.sha256(body);
        BlobFetch fetch = downloading(service.blob(target, digest), upstream.nextTransfer(), body.length);
        ScriptedUpstream.Transfer t = fetchTransfer();
        t.send(java.util.Arrays.copyOf(body, 30_000));
        CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() -> readToEnd(fetch));
        awaitTrue(() -> fetch.available() == 30_000, "first bytes written");
        t.fail(new UpstreamException(UpstreamException.Kind.UPSTREAM_ERROR, "broke off after 30000 of 64000 bytes"));

        assertThrows(ExecutionException.class, () -> reader.get(5, TimeUnit.SECONDS));
        assertInstanceOf(UpstreamException.class, fetch.failure());
        assertNothingStored(digest);
        CompletableFuture<BlobSource> retry = service.blob(target, digest); // a new download starts
        upstream.nextTransfer().fail(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "gone"));
        assertEquals(2, upstream.blobFetches.get());
        assertEquals(OciError.UNAVAILABLE, ociError(retry));
    }

    @Test
    void upstreamFailuresBeforeTheBodyBecomeOciErrorsAnd404sAreRememberedBriefly() throws Exception {
        Digest digest = Digest.sha256(random(10, 4));
        CompletableFuture<BlobSource> first = service.blob(target, digest);
        upstream.nextTransfer().fail(new UpstreamException(UpstreamException.Kind.NOT_FOUND, "404 from upstream"));
        assertEquals(OciError.BLOB_UNKNOWN, ociError(first));

        assertEquals(OciError.BLOB_UNKNOWN, ociError(service.blob(target, digest)));
        assertEquals(1, upstream.blobFetches.get(), "answered from the negative cache");
        assertEquals(1, service.stats().negativeHits());

        clock.advance(Duration.ofSeconds(31));
        CompletableFuture<BlobSource> later = service.blob(target, digest);
        upstream.nextTransfer().fail(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "connection refused"));
        assertEquals(2, upstream.blobFetches.get());
        ExecutionException e = assertThrows(ExecutionException.class, () -> later.get(5, TimeUnit.SECONDS));
        OciException oci = assertInstanceOf(OciException.class, e.getCause());
        assertEquals(OciError.UNAVAILABLE, oci.error());
        assertTrue(oci.detail().contains("upstream 'up'"), oci.detail());
        // An outage is not remembered: the next request tries again.
        CompletableFuture<BlobSource> retry = service.blob(target, digest);
        upstream.nextTransfer().fail(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "still down"));
        assertEquals(3, upstream.blobFetches.get());
        assertEquals(OciError.UNAVAILABLE, ociError(retry));
    }

    @Test
    void closingCancelsDownloadsAndDiscardsTheirIngestFiles() throws Exception {
        byte[] body = random(50_000, 5);
        Digest digest = Digest.sha256(body);
        BlobFetch fetch = downloading(service.blob(target, digest), upstream.nextTransfer(), body.length);
        fetchTransfer().send(java.util.Arrays.copyOf(body, 10_000));
        service.close();
        assertThrows(ExecutionException.class, () -> fetch.committed().get(5, TimeUnit.SECONDS));
        assertNothingStored(digest);
        assertEquals(OciError.UNAVAILABLE, ociError(service.blob(target, digest)));
    }

    @Test
    void anIngestFileThatCannotBeCreatedFailsTheRequestAndStopsTheTransferStartedBesideIt() throws Exception {
        byte[] body = random(20_000, 6);
        Digest digest = Digest.sha256(body);
        Path ingest = dir.resolve("ingest");
        try (Stream<Path> files = Files.list(ingest)) {
            assertTrue(files.findAny().isEmpty());
        }
        Files.delete(ingest);
        Files.writeString(ingest, "not a directory"); // every new ingest file fails

        CompletableFuture<BlobSource> request = service.blob(target, digest);
        ScriptedUpstream.Transfer t = upstream.nextTransfer(); // the request went out beside the creation
        ExecutionException e = assertThrows(ExecutionException.class, () -> request.get(5, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, rootCause(e), "the cause is the file system's: " + e);
        assertTrue(t.cancelled(), "the upstream transfer was stopped");
        awaitTrue(() -> service.inflight().get(digest) == null, "the failed download left the in-flight map");

        Files.delete(ingest);
        Files.createDirectory(ingest);
        BlobFetch again = downloading(service.blob(target, digest), upstream.nextTransfer(), body.length);
        fetchTransfer().sendAll(body, 3);
        assertEquals(digest, again.committed().get(5, TimeUnit.SECONDS).digest());
        assertArrayEquals(body, Files.readAllBytes(storage.blobs().stat(digest).orElseThrow().path()));
    }

    private static Throwable rootCause(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    // --- helpers ---

    private ScriptedUpstream.Transfer current;

    /** Takes the transfer, starts its body, and returns the fetch once the request resolved to it. */
    private BlobFetch downloading(CompletableFuture<BlobSource> request, ScriptedUpstream.Transfer t, long length)
            throws Exception {
        current = t;
        t.start(length);
        return assertInstanceOf(BlobSource.Downloading.class, request.get(5, TimeUnit.SECONDS)).fetch();
    }

    private ScriptedUpstream.Transfer fetchTransfer() {
        return current;
    }

    private void assertNothingStored(Digest digest) throws IOException {
        assertFalse(storage.blobs().stat(digest).isPresent(), "nothing committed");
        assertFalse(storage.metadata().getBlob(digest).isPresent());
        awaitTrue(() -> service.inflight().get(digest) == null, "the failed download left the in-flight map");
        awaitTrue(() -> {
            try (Stream<Path> files = Files.list(dir.resolve("ingest"))) {
                return files.findAny().isEmpty();
            } catch (IOException e) {
                return false;
            }
        }, "the ingest file was discarded");
    }

    private static OciError ociError(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        return assertInstanceOf(OciException.class, e.getCause()).error();
    }

    /**
     * Reads the blob as the HTTP layer does: from the growing file, up to what is available,
     * until the download commits; throws if it fails.
     */
    static byte[] readToEnd(BlobFetch fetch) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (FileChannel ch = fetch.openReader()) {
            long pos = 0;
            ByteBuffer buf = ByteBuffer.allocate(16384);
            while (true) {
                long available = fetch.available();
                while (pos < available) {
                    buf.clear().limit((int) Math.min(buf.capacity(), available - pos));
                    int n = ch.read(buf, pos);
                    out.write(buf.array(), 0, n);
                    pos += n;
                }
                if (fetch.failure() != null) {
                    throw new IllegalStateException("download failed", fetch.failure());
                }
                if (fetch.isCommitted() && pos == fetch.available()) {
                    return out.toByteArray();
                }
                fetch.awaitChange(available).get(10, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static void awaitTrue(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting: " + what);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
