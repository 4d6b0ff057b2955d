package ocimirror.storage.blob;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import org.junit.jupiter.api.Test;

/**
 * What every {@link BlobStorage} must do, run once per backend (files, S3) by a subclass that
 * opens the store. A backend that cannot give a behaviour must say so here, as a capability method
 * whose tests check what it does instead: nothing is skipped. (None so far: naming the digest when
 * an upload starts, which object storage needs, is what the interface asks of every backend.)
 */
public abstract class BlobStorageContract {
    protected static final byte[] HELLO = "hello, blob".getBytes(UTF_8);

    /** The store under test, open. */
    protected abstract BlobStorage storage();

    /**
     * Uploads started and neither committed nor discarded, as the backend keeps them (ingest files,
     * multipart uploads): an upload that fails or is abandoned must leave none.
     */
    protected abstract long leftovers() throws IOException;

    /** Committed blobs in the backend. */
    protected abstract long committedCount() throws IOException;

    /**
     * A size that makes the backend take its large-blob path (several parts of a multipart upload
     * for object storage). Files have no such path: the default is merely not tiny.
     */
    protected int largeSize() {
        return 256 * 1024;
    }

    protected static byte[] content(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 31 + seed + (i >>> 13));
        }
        return b;
    }

    protected final Digest put(byte[] bytes, Digest expected) throws IOException {
        try (BlobUpload u = storage().newUpload(expected)) {
            u.write(ByteBuffer.wrap(bytes));
            u.commit(bytes.length);
            return u.digest();
        }
    }

    protected final byte[] readAll(Digest d, long offset, long length) throws IOException {
        Optional<InputStream> in = storage().read(d, offset, length);
        assertTrue(in.isPresent(), "no blob " + d);
        try (InputStream s = in.get()) {
            return s.readAllBytes();
        }
    }

    @Test
    void commitsVerifiedContentWrittenInChunks() throws IOException {
        Digest expected = Digest.sha256(HELLO);
        try (BlobUpload u = storage().newUpload(expected)) {
            assertEquals(expected, u.digest());
            u.write(ByteBuffer.wrap(HELLO, 0, 5));
            u.write(ByteBuffer.allocateDirect(HELLO.length - 5).put(HELLO, 5, HELLO.length - 5).flip());
            assertEquals(HELLO.length, u.size());
            assertEquals(OptionalLong.empty(), storage().size(expected), "visible before commit");
            u.commit(HELLO.length);
        }
        assertEquals(OptionalLong.of(HELLO.length), storage().size(expected));
        assertArrayEquals(HELLO, readAll(expected, 0, -1));
        assertEquals(0, leftovers());
        assertEquals(1, committedCount());
    }

    @Test
    void largeBlobRoundTripsAndReadsByRange() throws IOException {
        byte[] big = content(largeSize(), 1);
        Digest d = Digest.sha256(big);
        try (BlobUpload u = storage().newUpload(d)) {
            // Odd-sized writes, so part boundaries fall inside them.
            for (int off = 0; off < big.length; off += 100_003) {
                u.write(ByteBuffer.wrap(big, off, Math.min(100_003, big.length - off)));
            }
            assertEquals(OptionalLong.empty(), storage().size(d), "visible before commit");
            u.commit(big.length);
        }
        assertEquals(OptionalLong.of(big.length), storage().size(d));
        assertArrayEquals(big, readAll(d, 0, -1));
        int mid = big.length / 2 - 7;
        assertArrayEquals(Arrays.copyOfRange(big, mid, mid + 1000), readAll(d, mid, 1000));
        assertArrayEquals(Arrays.copyOfRange(big, mid, big.length), readAll(d, mid, -1));
        // A length past the end is cut at the end; an offset at the end reads nothing.
        assertArrayEquals(Arrays.copyOfRange(big, big.length - 3, big.length), readAll(d, big.length - 3, 100));
        assertArrayEquals(new byte[0], readAll(d, big.length, -1));
        assertEquals(0, leftovers());
    }

    @Test
    void readOfAnAbsentBlobIsEmpty() throws IOException {
        Digest absent = Digest.sha256("never stored".getBytes(UTF_8));
        assertEquals(Optional.empty(), storage().read(absent, 0, -1));
        assertEquals(OptionalLong.empty(), storage().size(absent));
    }

    @Test
    void commitWithoutExpectedSizeChecksTheDigestAlone() throws IOException {
        try (BlobUpload u = storage().newUpload(Digest.sha256(HELLO))) {
            u.write(ByteBuffer.wrap(HELLO));
            u.commit(-1);
        }
        assertEquals(OptionalLong.of(HELLO.length), storage().size(Digest.sha256(HELLO)));
    }

    @Test
    void wrongDigestIsRefusedAndLeavesNothing() throws IOException {
        for (byte[] bytes : List.of(HELLO, content(largeSize(), 2))) {
            Digest other = Digest.sha256("something else".getBytes(UTF_8));
            BlobUpload u = storage().newUpload(other);
            u.write(ByteBuffer.wrap(bytes));
            OciException e = assertThrows(OciException.class, () -> u.commit(bytes.length));
            assertEquals(OciError.DIGEST_INVALID, e.error());
            assertEquals(0, leftovers(), bytes.length + " bytes");
            assertEquals(0, committedCount());
            assertEquals(OptionalLong.empty(), storage().size(other));
            assertEquals(OptionalLong.empty(), storage().size(Digest.sha256(bytes)));
            u.close(); // idempotent after a failed commit
            assertThrows(IllegalStateException.class, () -> u.commit(-1));
        }
    }

    @Test
    void wrongSizeIsRefusedAndLeavesNothing() throws IOException {
        for (byte[] bytes : List.of(HELLO, content(largeSize(), 3))) {
            BlobUpload u = storage().newUpload(Digest.sha256(bytes));
            u.write(ByteBuffer.wrap(bytes));
            OciException e = assertThrows(OciException.class, () -> u.commit(bytes.length + 1));
            assertEquals(OciError.SIZE_INVALID, e.error());
            assertEquals(0, leftovers(), bytes.length + " bytes");
            assertEquals(0, committedCount());
            assertThrows(IllegalStateException.class, () -> u.commit(bytes.length));
        }
    }

    @Test
    void uploadClosedWithoutCommitLeavesNothing() throws IOException {
        for (byte[] bytes : List.of(HELLO, content(largeSize(), 4))) {
            BlobUpload u = storage().newUpload(Digest.sha256(bytes));
            u.write(ByteBuffer.wrap(bytes));
            u.close();
            assertEquals(0, leftovers(), bytes.length + " bytes");
            u.abort();
            u.close();
            assertThrows(IllegalStateException.class, () -> u.write(ByteBuffer.wrap(HELLO)));
            assertThrows(IllegalStateException.class, () -> u.commit(-1));
            assertEquals(0, committedCount());
            assertEquals(OptionalLong.empty(), storage().size(Digest.sha256(bytes)));
        }
    }

    @Test
    void sha512Commit() throws IOException {
        Digest expected = Digest.of(Digest.Algorithm.SHA512, HELLO);
        assertEquals(expected, put(HELLO, expected));
        assertArrayEquals(HELLO, readAll(expected, 0, -1));
        assertEquals(OptionalLong.of(HELLO.length), storage().size(expected));
    }

    @Test
    void sha512ContentThatIsNotTheDigestIsRefused() throws IOException {
        Digest expected = Digest.of(Digest.Algorithm.SHA512, HELLO);
        BlobUpload bad = storage().newUpload(expected);
        bad.write(ByteBuffer.wrap("not hello".getBytes(UTF_8)));
        assertEquals(OciError.DIGEST_INVALID, assertThrows(OciException.class, () -> bad.commit(-1)).error());
        assertEquals(0, leftovers());
        assertEquals(0, committedCount());
    }

    @Test
    void committingSameContentTwiceKeepsOneBlob() throws IOException {
        Digest first = put(HELLO, Digest.sha256(HELLO));
        assertEquals(first, put(HELLO, Digest.sha256(HELLO)));
        assertEquals(1, committedCount());
        assertEquals(0, leftovers());
    }

    @Test
    void concurrentCommitsOfOneDigestBothSucceed() throws Exception {
        byte[] bytes = content(largeSize(), 5);
        Digest digest = Digest.sha256(bytes);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 3; round++) {
                storage().delete(digest);
                CyclicBarrier barrier = new CyclicBarrier(2);
                List<Future<Digest>> results = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    results.add(pool.submit(() -> {
                        try (BlobUpload u = storage().newUpload(digest)) {
                            u.write(ByteBuffer.wrap(bytes));
                            barrier.await(30, TimeUnit.SECONDS);
                            u.commit(bytes.length);
                            return u.digest();
                        }
                    }));
                }
                for (Future<Digest> f : results) {
                    assertEquals(digest, f.get(60, TimeUnit.SECONDS));
                }
                assertEquals(1, committedCount());
                assertEquals(0, leftovers());
                assertArrayEquals(bytes, readAll(digest, 0, -1));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void closeAbortsOpenUploads() throws IOException {
        BlobUpload small = storage().newUpload(Digest.sha256(HELLO));
        small.write(ByteBuffer.wrap(HELLO));
        byte[] bytes = content(largeSize(), 6);
        BlobUpload large = storage().newUpload(Digest.sha256(bytes));
        large.write(ByteBuffer.wrap(bytes));
        storage().close();
        assertEquals(0, leftovers());
        assertThrows(IllegalStateException.class, () -> storage().newUpload(Digest.sha256(HELLO)));
        assertThrows(IllegalStateException.class, () -> large.commit(-1));
    }

    @Test
    void deleteRemovesCommittedBlob() throws IOException {
        Digest d = put(HELLO, Digest.sha256(HELLO));
        assertTrue(storage().delete(d));
        assertEquals(OptionalLong.empty(), storage().size(d));
        assertEquals(Optional.empty(), storage().read(d, 0, -1));
        assertFalse(storage().delete(d));
        assertEquals(0, committedCount());
        // the same content can be committed again after a delete
        assertEquals(d, put(HELLO, d));
    }

    @Test
    void emptyBlob() throws IOException {
        Digest empty = Digest.sha256(new byte[0]);
        assertEquals(empty, put(new byte[0], empty));
        assertEquals(OptionalLong.of(0), storage().size(empty));
        assertArrayEquals(new byte[0], readAll(empty, 0, -1));
    }
}
