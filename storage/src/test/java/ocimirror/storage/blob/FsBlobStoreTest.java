package ocimirror.storage.blob;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@link BlobStorageContract}, and what only files give: paths, the tailable ingest file, the wipe at start. */
class FsBlobStoreTest extends BlobStorageContract {

    @TempDir
    Path data;
    private FsBlobStore store;

    @BeforeEach
    void open() throws IOException {
        store = FsBlobStore.open(data);
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Override
    protected BlobStorage storage() {
        return store;
    }

    @Override
    protected long leftovers() throws IOException {
        return ingestCount();
    }

    @Override
    protected long committedCount() throws IOException {
        return blobCount();
    }

    @Test
    void layoutIsDocumentedOne() {
        Digest d = Digest.sha256(HELLO);
        BlobPaths paths = new BlobPaths(data);
        assertEquals(data.toAbsolutePath().resolve("blobs/sha256/" + d.hex().substring(0, 2) + "/" + d.hex()),
                paths.blob(d));
        assertTrue(Files.isDirectory(data.resolve("ingest")));
        assertTrue(Files.isDirectory(data.resolve("blobs/sha256")));
    }

    @Test
    void ingestIdsMustBeCanonicalUuids() {
        BlobPaths paths = new BlobPaths(data);
        String id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assertEquals(Optional.of(data.toAbsolutePath().resolve("ingest/" + id)), paths.ingest(id));
        for (String bad : new String[] {"../../etc/passwd", "1-1-1-1-1", id.toUpperCase(), id + "/x", "", null}) {
            assertEquals(Optional.empty(), paths.ingest(bad), String.valueOf(bad));
        }
    }

    @Test
    void ingestFileGrowsAndIsRenamedIntoPlace() throws IOException {
        Digest expected = Digest.sha256(HELLO);
        BlobInfo info;
        try (BlobWriter w = store.newWriter(Digest.Algorithm.SHA256)) {
            Path ingest = w.ingestPath();
            assertEquals(data.toAbsolutePath().resolve("ingest/" + w.id()), ingest);
            w.write(ByteBuffer.wrap(HELLO, 0, 5));
            w.write(ByteBuffer.allocateDirect(HELLO.length - 5).put(HELLO, 5, HELLO.length - 5).flip());
            assertEquals(HELLO.length, w.size());
            // a reader tailing the ingest file sees every byte written so far
            assertArrayEquals(HELLO, Files.readAllBytes(ingest));
            info = w.commit(expected, HELLO.length);
            assertFalse(Files.exists(ingest));
        }
        assertEquals(new BlobInfo(expected, HELLO.length, new BlobPaths(data).blob(expected)), info);
        assertArrayEquals(HELLO, Files.readAllBytes(info.path()));
        assertEquals(Optional.of(info), store.stat(expected));
        assertEquals(0, ingestCount());
    }




    @Test
    void sha512BlobsLiveUnderTheirOwnDirectory() throws IOException {
        Digest expected = Digest.of(Digest.Algorithm.SHA512, HELLO);
        BlobInfo info = store.put(HELLO, expected);
        assertEquals(expected, info.digest());
        assertTrue(info.path().startsWith(data.toAbsolutePath().resolve("blobs/sha512")));
        assertArrayEquals(HELLO, Files.readAllBytes(info.path()));
        assertEquals(Optional.of(info), store.stat(expected));
    }




    @Test
    void commitWithoutExpectedDigestUsesSha256() throws IOException {
        try (BlobWriter w = store.newWriter(Digest.Algorithm.SHA256)) {
            w.write(ByteBuffer.wrap(HELLO));
            assertEquals(Digest.sha256(HELLO), w.commit(null, -1).digest());
        }
    }

    @Test
    void sha512CommitOnSha256WriterRehashesTheFile() throws IOException {
        Digest expected = Digest.of(Digest.Algorithm.SHA512, HELLO);
        try (BlobWriter w = store.newWriter(Digest.Algorithm.SHA256)) {
            w.write(ByteBuffer.wrap(HELLO));
            assertEquals(expected, w.commit(expected, -1).digest());
        }
        BlobWriter bad = store.newWriter(Digest.Algorithm.SHA256);
        bad.write(ByteBuffer.wrap("not hello".getBytes(UTF_8)));
        assertEquals(OciError.DIGEST_INVALID, assertThrows(OciException.class, () -> bad.commit(expected, -1)).error());
        assertEquals(0, ingestCount());
    }

    @Test
    void abortRemovesIngestAndIsIdempotent() throws IOException {
        BlobWriter w = store.newWriter(Digest.Algorithm.SHA256);
        w.write(ByteBuffer.wrap(HELLO));
        assertTrue(Files.exists(w.ingestPath()));
        w.abort();
        assertFalse(Files.exists(w.ingestPath()));
        w.abort();
        w.close();
        assertThrows(IllegalStateException.class, () -> w.write(ByteBuffer.wrap(HELLO)));
        assertThrows(IllegalStateException.class, () -> w.commit(null, -1));
        assertEquals(0, blobCount());
    }

    @Test
    void reopenWipesIngestLeftoversAndKeepsBlobs() throws IOException {
        BlobInfo kept = store.put(HELLO, null);
        BlobWriter unfinished = store.newWriter(Digest.Algorithm.SHA256);
        unfinished.write(ByteBuffer.wrap(HELLO));
        Files.writeString(data.resolve("ingest/stray"), "crash leftover");
        Files.createDirectories(data.resolve("ingest/dir/sub"));
        Files.writeString(data.resolve("ingest/dir/sub/f"), "x");
        assertEquals(3, ingestCount());

        // simulate a crash: no close(), open a fresh store over the same directory
        FsBlobStore reopened = FsBlobStore.open(data);
        try {
            assertEquals(0, ingestCount());
            assertEquals(Optional.of(kept), reopened.stat(kept.digest()));
            assertArrayEquals(HELLO, Files.readAllBytes(kept.path()));
        } finally {
            reopened.close();
        }
    }




    private long ingestCount() throws IOException {
        try (Stream<Path> s = Files.list(data.resolve("ingest"))) {
            return s.count();
        }
    }

    private long blobCount() throws IOException {
        try (Stream<Path> s = Files.walk(data.resolve("blobs"))) {
            return s.filter(Files::isRegularFile).count();
        }
    }

    @Test
    void smallBlobsComeWithTheirBytesAndADeletedOneIsForgotten() throws IOException {
        BlobInfo info = store.put(HELLO, null);
        BlobContent first = store.content(info.digest()).orElseThrow();
        assertArrayEquals(HELLO, first.bytes());
        assertEquals(info, first.info());
        // The second read is the remembered one: the same array, no file read.
        assertTrue(first.bytes() == store.content(info.digest()).orElseThrow().bytes());

        assertTrue(store.delete(info.digest()));
        assertEquals(Optional.empty(), store.content(info.digest()));
        assertEquals(Optional.empty(), store.content(Digest.sha256("never stored".getBytes(UTF_8))));
    }

    @Test
    void largeBlobsComeWithoutTheirBytes() throws IOException {
        byte[] big = new byte[BlobStore.SMALL_BLOB_BYTES + 1];
        big[big.length - 1] = 7;
        BlobInfo info = store.put(big, null);
        BlobContent content = store.content(info.digest()).orElseThrow();
        assertEquals(null, content.bytes());
        assertEquals(big.length, content.info().size());
        assertEquals(info.path(), content.info().path());
    }
}
