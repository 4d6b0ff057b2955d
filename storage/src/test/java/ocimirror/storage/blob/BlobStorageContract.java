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
 * opens the store. A backend that cannot give a behaviour says so through a capability method
 * here ({@link #rehashesOnCommit}), and the test checks what it does instead: nothing is skipped.
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

    /**
     * Whether a commit against an algorithm the upload did not hash while writing still works.
     * Files read the ingest file back; object storage cannot read an upload before it is complete,
     * so there the commit fails (and leaves nothing). The registry names sha512 up front when it can.
     */
    protected abstract boolean rehashesOnCommit();

    protected static byte[] content(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 31 + seed + (i >>> 13));
        }
        return b;
    }

    protected final Digest put(byte[] bytes, Digest expected) throws IOException {
        try (BlobUpload u = storage().newUpload(expected == null ? Digest.Algorithm.SHA256 : expected.algorithm())) {
            u.write(ByteBuffer.wrap(bytes));
            return u.commit(expected, bytes.length);
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
        try (BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256)) {
            u.write(ByteBuffer.wrap(HELLO, 0, 5));
            u.write(ByteBuffer.allocateDirect(HELLO.length - 5).put(HELLO, 5, HELLO.length - 5).flip());
            assertEquals(HELLO.length, u.size());
            assertEquals(OptionalLong.empty(), storage().size(expected), "visible before commit");
            assertEquals(expected, u.commit(expected, HELLO.length));
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
        try (BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256)) {
            // Odd-sized writes, so part boundaries fall inside them.
            for (int off = 0; off < big.length; off += 100_003) {
                u.write(ByteBuffer.wrap(big, off, Math.min(100_003, big.length - off)));
            }
            assertEquals(d, u.commit(d, big.length));
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
    void commitWithoutExpectedDigestUsesSha256() throws IOException {
        assertEquals(Digest.sha256(HELLO), put(HELLO, null));
    }

    @Test
    void wrongDigestIsRefusedAndLeavesNothing() throws IOException {
        for (byte[] bytes : List.of(HELLO, content(largeSize(), 2))) {
            Digest other = Digest.sha256("something else".getBytes(UTF_8));
            BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256);
            u.write(ByteBuffer.wrap(bytes));
            OciException e = assertThrows(OciException.class, () -> u.commit(other, bytes.length));
            assertEquals(OciError.DIGEST_INVALID, e.error());
            assertEquals(0, leftovers(), bytes.length + " bytes");
            assertEquals(0, committedCount());
            assertEquals(OptionalLong.empty(), storage().size(other));
            assertEquals(OptionalLong.empty(), storage().size(Digest.sha256(bytes)));
            u.close(); // idempotent after a failed commit
            assertThrows(IllegalStateException.class, () -> u.commit(Digest.sha256(bytes), -1));
        }
    }

    @Test
    void wrongSizeIsRefusedAndLeavesNothing() throws IOException {
        for (byte[] bytes : List.of(HELLO, content(largeSize(), 3))) {
            BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256);
            u.write(ByteBuffer.wrap(bytes));
            OciException e = assertThrows(OciException.class, () -> u.commit(Digest.sha256(bytes), bytes.length + 1));
            assertEquals(OciError.SIZE_INVALID, e.error());
            assertEquals(0, leftovers(), bytes.length + " bytes");
            assertEquals(0, committedCount());
            assertThrows(IllegalStateException.class, () -> u.commit(Digest.sha256(bytes), bytes.length));
        }
    }

    @Test
    void uploadClosedWithoutCommitLeavesNothing() throws IOException {
        for (byte[] bytes : List.of(HELLO, content(largeSize(), 4))) {
            BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256);
            u.write(ByteBuffer.wrap(bytes));
            u.close();
            assertEquals(0, leftovers(), bytes.length + " bytes");
            u.abort();
            u.close();
            assertThrows(IllegalStateException.class, () -> u.write(ByteBuffer.wrap(HELLO)));
            assertThrows(IllegalStateException.class, () -> u.commit(null, -1));
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
    void sha512CommitOnSha256Upload() throws IOException {
        Digest expected = Digest.of(Digest.Algorithm.SHA512, HELLO);
        BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256);
        u.write(ByteBuffer.wrap(HELLO));
        if (rehashesOnCommit()) {
            assertEquals(expected, u.commit(expected, -1));
            assertArrayEquals(HELLO, readAll(expected, 0, -1));
            BlobUpload bad = storage().newUpload(Digest.Algorithm.SHA256);
            bad.write(ByteBuffer.wrap("not hello".getBytes(UTF_8)));
            assertEquals(OciError.DIGEST_INVALID, assertThrows(OciException.class, () -> bad.commit(expected, -1)).error());
        } else {
            // Documented difference: the bytes cannot be read back before the commit, so it fails.
            assertThrows(IOException.class, () -> u.commit(expected, -1)); // not DIGEST_INVALID: an OciException is unchecked
            assertEquals(OptionalLong.empty(), storage().size(expected));
        }
        assertEquals(0, leftovers());
    }

    @Test
    void committingSameContentTwiceKeepsOneBlob() throws IOException {
        Digest first = put(HELLO, Digest.sha256(HELLO));
        assertEquals(first, put(HELLO, null));
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
                        try (BlobUpload u = storage().newUpload(Digest.Algorithm.SHA256)) {
                            u.write(ByteBuffer.wrap(bytes));
                            barrier.await(30, TimeUnit.SECONDS);
                            return u.commit(digest, bytes.length);
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
        BlobUpload small = storage().newUpload(Digest.Algorithm.SHA256);
        small.write(ByteBuffer.wrap(HELLO));
        BlobUpload large = storage().newUpload(Digest.Algorithm.SHA256);
        large.write(ByteBuffer.wrap(content(largeSize(), 6)));
        storage().close();
        assertEquals(0, leftovers());
        assertThrows(IllegalStateException.class, () -> storage().newUpload(Digest.Algorithm.SHA256));
        assertThrows(IllegalStateException.class, () -> large.commit(null, -1));
    }

    @Test
    void deleteRemovesCommittedBlob() throws IOException {
        Digest d = put(HELLO, null);
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
