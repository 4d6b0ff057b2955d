package ocimirror.storage.blob;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link BlobStorageContract} against the tier with a file store as its remote, and what the
 * tier adds: copies on a miss, shared copies, eviction, the commit order. The remote is seen
 * through a {@link CountingStorage} to count its reads.
 */
class TieredBlobStoreTest extends BlobStorageContract {
    private static final int BLOB = 200_000;

    @TempDir
    Path data;
    private ExecutorService copies;
    private CountingStorage remote;
    private TieredBlobStore tier;

    @BeforeEach
    void open() throws IOException {
        copies = Executors.newCachedThreadPool();
        tier = openTier(10L << 20, 64 * 1024);
    }

    private TieredBlobStore openTier(long maxBytes, long window) throws IOException {
        remote = new CountingStorage(FsBlobStore.open(data.resolve("remote")));
        return TieredBlobStore.open(data.resolve("tier"), remote, maxBytes, window, copies);
    }

    @AfterEach
    void close() {
        tier.close();
        copies.shutdownNow();
    }

    @Override
    protected BlobStorage storage() {
        return tier;
    }

    /** Ingest files of the tier and of the remote. */
    @Override
    protected long leftovers() throws IOException {
        return count(data.resolve("tier/ingest")) + count(data.resolve("remote/ingest"));
    }

    /** The larger of the remote's and the tier's counts: a blob must leave (or never reach) both. */
    @Override
    protected long committedCount() throws IOException {
        return Math.max(count(data.resolve("tier/blobs")), count(data.resolve("remote/blobs")));
    }

    private static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).count();
        }
    }

    private Digest inRemoteOnly(byte[] bytes) throws IOException {
        Digest d = Digest.sha256(bytes);
        try (BlobUpload u = remote.remote().newUpload(d)) {
            u.write(ByteBuffer.wrap(bytes));
            u.commit(bytes.length);
        }
        return d;
    }

    @Test
    void writesReachTheRemoteAndTheTier() throws IOException {
        byte[] bytes = content(BLOB, 10);
        BlobInfo info = tier.put(bytes, Digest.sha256(bytes));
        assertEquals(OptionalLong.of(BLOB), remote.remote().size(info.digest()));
        assertEquals(Optional.of(info), tier.stat(info.digest()));
        assertArrayEquals(bytes, Files.readAllBytes(info.path()));
        assertEquals(BLOB, tier.tierBytes());
    }

    @Test
    void aMissFillsTheTierAndTheNextReadIsLocal() throws IOException {
        byte[] bytes = content(BLOB, 11);
        Digest d = inRemoteOnly(bytes);
        assertEquals(Optional.empty(), tier.stat(d));
        assertArrayEquals(bytes, readAll(d, 0, -1));
        assertTrue(remote.reads.get() >= 1);
        assertTrue(tier.stat(d).isPresent(), "the miss filled the tier");
        assertEquals(BLOB, tier.tierBytes());

        remote.reads.set(0);
        assertArrayEquals(bytes, readAll(d, 0, -1));
        assertArrayEquals(Arrays.copyOfRange(bytes, 5, 105), readAll(d, 5, 100));
        assertEquals(0, remote.reads.get(), "served from the tier");
        assertEquals(0, leftovers());
    }

    @Test
    void concurrentReadersOfAMissShareOneRemoteRead() throws Exception {
        byte[] bytes = content(BLOB, 12);
        Digest d = inRemoteOnly(bytes);
        remote.gate = new CountDownLatch(1);
        remote.reads.set(0);
        // The copy is held at its first byte until both readers have their streams.
        InputStream a = tier.read(d, 0, -1).orElseThrow();
        InputStream b = tier.read(d, 0, -1).orElseThrow();
        remote.gate.countDown();
        try (a; b) {
            assertArrayEquals(bytes, b.readAllBytes());
            assertArrayEquals(bytes, a.readAllBytes());
        }
        // One copy in windows of 64 KiB: one ranged GET per window, none for the second reader.
        assertEquals((BLOB + 65535) / 65536, remote.reads.get());
        assertTrue(tier.stat(d).isPresent());
    }

    @Test
    void theLastByteOfACopyWaitsForItsVerdict() throws Exception {
        byte[] bytes = content(BLOB, 29);
        Digest d = inRemoteOnly(bytes);
        // A claim on the digest holds the copy's commit back once every byte has arrived.
        assertTrue(tier.holds().tryClaim(d));
        try (InputStream in = tier.read(d, 0, -1).orElseThrow()) {
            byte[] head = in.readNBytes(BLOB - 1);
            assertArrayEquals(Arrays.copyOf(bytes, BLOB - 1), head);
            Future<Integer> last = copies.submit(() -> in.read());
            assertThrows(TimeoutException.class, () -> last.get(300, TimeUnit.MILLISECONDS));
            tier.holds().releaseClaim(d);
            assertEquals(bytes[BLOB - 1] & 0xff, last.get(30, TimeUnit.SECONDS));
            assertEquals(-1, in.read());
        } finally {
            tier.holds().releaseClaim(d);
        }
    }

    /**
     * The copy as a growing blob (what the server streams to a client): its reader follows the file
     * as it fills, change notifications arrive, the last byte's availability waits for the commit,
     * and a reader opened after the commit gets the tier's file.
     */
    @Test
    void aCopyIsAGrowingBlobTheServerCanStream() throws Exception {
        byte[] bytes = content(BLOB, 31);
        Digest d = inRemoteOnly(bytes);
        assertEquals(Optional.empty(), tier.copying(Digest.sha256(new byte[7])), "nowhere: no copy");
        assertTrue(tier.holds().tryClaim(d)); // holds the commit back once every byte has arrived
        GrowingBlob copy;
        try {
            copy = tier.copying(d).orElseThrow();
            assertEquals(d, copy.digest());
            assertEquals(BLOB, copy.contentLength());
            assertSame(copy, tier.copying(d).orElseThrow(), "a second asker joins the copy in progress");
            try (java.nio.channels.FileChannel reader = copy.openReader()) {
                waitFor(() -> copy.available() == BLOB);
                assertFalse(copy.isCommitted(), "committed while the claim holds it back");
                CompletableFuture<Void> change = copy.awaitChange(BLOB);
                assertFalse(change.isDone());
                tier.holds().releaseClaim(d);
                change.get(30, TimeUnit.SECONDS);
                assertTrue(copy.isCommitted());
                assertNull(copy.failure());
                ByteBuffer all = ByteBuffer.allocate(BLOB);
                while (all.hasRemaining() && reader.read(all, all.position()) > 0) {
                    // the channel stays valid after the commit renamed the file
                }
                assertArrayEquals(bytes, all.array());
            }
        } finally {
            tier.holds().releaseClaim(d);
        }
        try (java.nio.channels.FileChannel after = copy.openReader()) {
            assertEquals(BLOB, after.size(), "the tier's file once the copy is over");
        }
        assertTrue(tier.stat(d).isPresent());
        assertEquals(Optional.empty(), tier.copying(d), "in the tier: nothing to copy");
        assertEquals(1, tier.copies());
    }

    @Test
    void aRangedReadOfAMissIsARangedRemoteReadAndFillsNothing() throws IOException {
        byte[] bytes = content(BLOB, 13);
        Digest d = inRemoteOnly(bytes);
        remote.reads.set(0);
        assertArrayEquals(Arrays.copyOfRange(bytes, 1000, 1100), readAll(d, 1000, 100));
        assertEquals(1, remote.reads.get());
        assertEquals(Optional.empty(), tier.stat(d));
        assertEquals(0, leftovers());
    }

    @Test
    void wrongBytesFromTheRemoteNeverLandInTheTier() throws IOException {
        byte[] bytes = content(BLOB, 14);
        Digest d = inRemoteOnly(bytes);
        remote.corrupt = true;
        for (int attempt = 0; attempt < 2; attempt++) {
            InputStream in = tier.read(d, 0, -1).orElseThrow();
            byte[] got = new byte[BLOB];
            int n = 0;
            IOException e;
            try (in) {
                while (true) {
                    int r = in.read(got, n, got.length - n);
                    assertTrue(r > 0, "a clean end after " + n + " bytes");
                    n += r;
                }
            } catch (IOException failed) {
                e = failed;
            }
            assertTrue(e.getMessage().contains("DIGEST_INVALID"), e.getMessage());
            assertTrue(n < BLOB, "never the whole body");
            assertEquals(Optional.empty(), tier.stat(d));
            assertEquals(0, tier.tierBytes());
            assertEquals(0, count(data.resolve("tier/blobs")));
            assertEquals(0, leftovers());
        }
        remote.corrupt = false;
        assertArrayEquals(bytes, readAll(d, 0, -1), "the next read copies again");
    }

    @Test
    void evictionWhileAReaderStreamsLeavesItsBytesWhole() throws IOException {
        tier.close();
        tier = openTier(2 * BLOB + BLOB / 2, 64 * 1024);
        byte[] a = content(BLOB, 15);
        byte[] b = content(BLOB, 16);
        byte[] c = content(BLOB, 17);
        Digest da = inRemoteOnly(a);
        // A streams from its copy; the copy commits and A becomes the least recently read blob.
        InputStream in = tier.read(da, 0, -1).orElseThrow();
        byte[] head = in.readNBytes(1000);
        Digest db = tier.put(b, Digest.sha256(b)).digest();
        waitFor(() -> tier.tierBytes() == 2 * BLOB); // the copy committed and counted
        tier.stat(db);
        Digest dc = tier.put(c, Digest.sha256(c)).digest();
        assertEquals(Optional.empty(), tier.tier().stat(da), "A was evicted");
        assertEquals(2 * BLOB, tier.tierBytes());
        try (in) {
            byte[] rest = in.readAllBytes();
            byte[] all = Arrays.copyOf(head, BLOB);
            System.arraycopy(rest, 0, all, head.length, rest.length);
            assertEquals(BLOB, head.length + rest.length);
            assertArrayEquals(a, all);
        }
        // A committed local reader too: opened, then evicted.
        InputStream local = tier.read(db, 0, -1).orElseThrow();
        tier.stat(dc);
        tier.put(a, da);
        assertEquals(Optional.empty(), tier.tier().stat(db), "B was evicted");
        try (local) {
            assertArrayEquals(b, local.readAllBytes());
        }
        // A held blob is never evicted: the server holds before it looks up the path.
        try (BlobHolds.Hold hold = tier.holds().tryHold(da).orElseThrow()) {
            tier.put(content(BLOB, 19), null);
            tier.put(content(BLOB, 20), null);
            assertTrue(tier.tier().stat(da).isPresent());
        }
    }

    @Test
    void reopenCountsTheTierFromItsFilesAndEvictsTheOldest() throws Exception {
        byte[] a = content(BLOB, 21);
        byte[] b = content(BLOB, 22);
        Digest da = tier.put(a, null).digest();
        Files.setLastModifiedTime(tier.stat(da).orElseThrow().path(),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        Digest db = tier.put(b, null).digest();
        tier.close();
        tier = openTier(2 * BLOB + 10, 64 * 1024);
        assertEquals(2 * BLOB, tier.tierBytes());
        tier.put(content(BLOB, 23), null);
        assertEquals(Optional.empty(), tier.stat(da), "the oldest went");
        assertTrue(tier.stat(db).isPresent());
        assertArrayEquals(a, readAll(da, 0, -1), "still in the remote");
    }

    /** A writer as the server gets one: digest named up front (a download) or not (a chunked push). */
    private BlobWriter writer(boolean named, Digest d) throws IOException {
        return named ? tier.newWriterFor(d) : tier.newWriter(d.algorithm());
    }

    @Test
    void theRemoteCompletesBeforeTheTierShowsTheBlob() throws IOException {
        for (boolean named : new boolean[] {false, true}) {
            byte[] bytes = content(BLOB, named ? 24 : 124);
            Digest d = Digest.sha256(bytes);
            boolean[] visible = new boolean[1];
            remote.beforeCommit = x -> visible[0] = tier.stat(x).isPresent();
            try (BlobWriter w = writer(named, d)) {
                w.write(ByteBuffer.wrap(bytes));
                w.commit(d, BLOB);
            }
            assertFalse(visible[0], "the tier showed the blob before the remote had it, named " + named);
            assertEquals(OptionalLong.of(BLOB), remote.remote().size(d));
        }
    }

    @Test
    void aCrashBeforeTheRemoteCompletesLeavesNothingVisible() throws IOException {
        for (boolean named : new boolean[] {false, true}) {
            byte[] bytes = content(BLOB, named ? 25 : 125);
            Digest d = Digest.sha256(bytes);
            // The process "dies" as the remote upload is about to complete: a new one starts over the same dirs.
            remote.beforeCommit = x -> {
                try (TieredBlobStore restarted = TieredBlobStore.open(data.resolve("tier"),
                        FsBlobStore.open(data.resolve("remote")), 10L << 20, copies)) {
                    assertEquals(Optional.empty(), restarted.stat(d));
                    assertEquals(OptionalLong.empty(), restarted.size(d));
                    assertEquals(Optional.empty(), restarted.read(d, 0, -1));
                    assertEquals(0, leftovers());
                    assertEquals(0, committedCount());
                }
                throw new IOException("killed");
            };
            BlobWriter w = writer(named, d);
            w.write(ByteBuffer.wrap(bytes));
            assertThrows(IOException.class, () -> w.commit(d, BLOB));
            assertEquals(Optional.empty(), tier.stat(d));
            assertEquals(0, committedCount());
        }
    }

    @Test
    void aWriterThatNamesItsDigestUploadsWhileItWrites() throws Exception {
        byte[] bytes = content(BLOB, 30);
        Digest d = Digest.sha256(bytes);
        try (BlobWriter w = tier.newWriterFor(d)) {
            w.write(ByteBuffer.wrap(bytes, 0, BLOB / 2));
            // The remote's upload (an ingest file of the file store) has the first half before any commit.
            waitFor(() -> remoteIngestBytes() == BLOB / 2);
            w.write(ByteBuffer.wrap(bytes, BLOB / 2, BLOB - BLOB / 2));
            assertEquals(OptionalLong.empty(), remote.remote().size(d), "visible remotely before commit");
            assertEquals(d, w.commit(d, BLOB).digest());
        }
        assertEquals(OptionalLong.of(BLOB), remote.remote().size(d));
        assertTrue(tier.stat(d).isPresent());
        assertEquals(1, remote.uploads.get(), "the followed upload was the one committed");
        assertEquals(0, leftovers());

        // Aborted half-way: neither side keeps anything.
        BlobWriter w = tier.newWriterFor(Digest.sha256(HELLO));
        w.write(ByteBuffer.wrap(bytes, 0, 1000));
        waitFor(() -> remoteIngestBytes() == 1000);
        w.abort();
        assertEquals(0, leftovers());
    }

    private long remoteIngestBytes() {
        try (Stream<Path> s = Files.list(data.resolve("remote/ingest"))) {
            return s.mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aFailedRemoteUploadCommitsNothing() throws IOException {
        byte[] bytes = content(BLOB, 26);
        BlobWriter w = tier.newWriter(Digest.Algorithm.SHA256);
        w.write(ByteBuffer.wrap(bytes));
        Digest wrong = Digest.sha256(HELLO);
        assertEquals(OciError.DIGEST_INVALID, assertThrows(OciException.class, () -> w.commit(wrong, -1)).error());
        assertEquals(0, committedCount());
        assertEquals(0, leftovers());
        assertEquals(0, tier.tierBytes());
    }

    @Test
    void aBlobTheRemoteHoldsIsNotSentAgain() throws IOException {
        byte[] bytes = content(BLOB, 27);
        Digest d = inRemoteOnly(bytes);
        tier.put(bytes, d);
        assertEquals(0, remote.uploads.get());
        assertTrue(tier.stat(d).isPresent());
    }

    @Test
    void deleteRemovesTheBlobFromBoth() throws IOException {
        byte[] bytes = content(BLOB, 28);
        Digest d = tier.put(bytes, null).digest();
        assertTrue(tier.delete(d));
        assertEquals(Optional.empty(), tier.stat(d));
        assertEquals(OptionalLong.empty(), remote.remote().size(d));
        assertEquals(0, tier.tierBytes());
    }

    @Test
    void theIngestFileGrowsForFollowersAndSmallBlobsComeWithBytes() throws IOException {
        try (BlobWriter w = tier.newWriter(Digest.Algorithm.SHA256)) {
            w.write(ByteBuffer.wrap(HELLO));
            assertArrayEquals(HELLO, Files.readAllBytes(w.ingestPath()));
            assertEquals(Digest.sha256(HELLO), w.commit(null, -1).digest());
        }
        assertArrayEquals(HELLO, tier.content(Digest.sha256(HELLO)).orElseThrow().bytes());
        assertEquals(OptionalLong.of(HELLO.length), remote.remote().size(Digest.sha256(HELLO)));
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met in 30 s");
            }
            Thread.onSpinWait();
        }
    }
}
