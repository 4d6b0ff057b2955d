package ocimirror.storage.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.storage.blob.BlobStorage;
import ocimirror.storage.blob.BlobStorageContract;
import ocimirror.storage.blob.BlobUpload;
import ocimirror.storage.oci.Digest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link BlobStorageContract} against a real S3 API (s3proxy in this JVM), each test under a
 * prefix of its own; and what only object storage has: the janitor, the key layout, errors.
 */
class S3BlobStoreTest extends BlobStorageContract {
    private static final String BUCKET = "blobs";
    private static final int PART = S3BlobStore.MIN_PART_SIZE;
    private static final AtomicInteger TESTS = new AtomicInteger();

    @TempDir
    static Path dir;
    private static S3ProxyServer server;

    private S3Keys keys;
    private S3BlobStore store;
    private S3Api api; // a second client, to look at the bucket from outside the store

    @BeforeAll
    static void startS3() throws Exception {
        server = new S3ProxyServer(dir, BUCKET);
    }

    @AfterAll
    static void stopS3() throws Exception {
        server.close();
    }

    @BeforeEach
    void open() throws IOException {
        keys = new S3Keys("t" + TESTS.incrementAndGet() + "/");
        store = S3BlobStore.open(settings(S3ProxyServer.CREDENTIAL));
        api = S3BlobStore.open(settings(S3ProxyServer.CREDENTIAL)).api();
    }

    private S3BlobStore.Settings settings(String secret) {
        S3Location location = new S3Location(server.endpoint(), "us-east-1", BUCKET, true);
        return S3BlobStore.Settings.of(location, keys,
                        AwsCredentialsProvider.of(new AwsCredentials(S3ProxyServer.IDENTITY, secret, null)))
                .withPartSize(PART);
    }

    @AfterEach
    void close() {
        store.close();
        api.close();
    }

    @Override
    protected BlobStorage storage() {
        return store;
    }

    @Override
    protected long leftovers() throws IOException {
        return api.listUploads(keys.blobsPrefix()).size();
    }

    @Override
    protected long committedCount() throws IOException {
        return api.listKeys(keys.blobsPrefix()).size();
    }

    /** Two full parts and a short last one. */
    @Override
    protected int largeSize() {
        return 2 * PART + 12_345;
    }

    @Test
    void blobsLiveUnderTheDocumentedKeys() throws IOException {
        Digest d = put(HELLO, Digest.sha256(HELLO));
        String key = keys.blobsPrefix() + "sha256/" + d.hex().substring(0, 2) + "/" + d.hex();
        assertEquals(key, keys.blob(d));
        assertEquals(List.of(key), api.listKeys(keys.blobsPrefix()));
        assertEquals(OptionalLong.of(HELLO.length), api.head(key));
    }

    @Test
    void aLargeBlobIsAMultipartUploadUntilItIsCommitted() throws IOException {
        byte[] big = content(largeSize(), 7);
        Digest d = Digest.sha256(big);
        try (BlobUpload u = store.newUpload(d)) {
            u.write(ByteBuffer.wrap(big));
            List<S3Api.Upload> uploads = api.listUploads(keys.blobsPrefix());
            assertEquals(1, uploads.size());
            assertEquals(keys.blob(d), uploads.get(0).key());
            assertEquals(0, committedCount());
            u.commit(big.length);
        }
        assertEquals(0, leftovers());
        assertEquals(List.of(keys.blob(d)), api.listKeys(keys.blobsPrefix()));
    }

    @Test
    void janitorAbortsUploadsOlderThanTheThresholdOnly() throws IOException {
        byte[] big = content(largeSize(), 8);
        BlobUpload abandoned = store.newUpload(Digest.sha256(big));
        abandoned.write(ByteBuffer.wrap(big)); // two parts sent: the multipart upload exists
        assertEquals(1, leftovers());

        Instant now = Instant.now();
        assertEquals(0, store.janitor(Clock.fixed(now, ZoneOffset.UTC)).abortOlderThan(Duration.ofHours(1)));
        assertEquals(1, leftovers(), "a young upload is left alone");

        Clock later = Clock.fixed(now.plus(Duration.ofHours(2)), ZoneOffset.UTC);
        assertEquals(1, store.janitor(later).abortOlderThan(Duration.ofHours(1)));
        assertEquals(0, leftovers());

        // The replica that owned it, were it still alive, fails to commit and leaves nothing.
        assertThrows(IOException.class, () -> abandoned.commit(big.length));
        assertEquals(0, committedCount());
        assertEquals(0, leftovers());
    }

    @Test
    void aReadClosedEarlyLeavesTheStoreUsable() throws IOException {
        byte[] big = content(largeSize(), 9);
        Digest d = put(big, Digest.sha256(big));
        for (int i = 0; i < 20; i++) { // more than any pool would hold if closed streams leaked connections
            try (java.io.InputStream in = store.read(d, 0, -1).orElseThrow()) {
                assertEquals(big[0], (byte) in.read());
            }
        }
        assertEquals(OptionalLong.of(big.length), store.size(d));
        assertEquals(big.length, readAll(d, 0, -1).length);
    }

    @Test
    void wrongCredentialsAreAnS3Error() throws IOException {
        try (S3BlobStore wrong = S3BlobStore.open(settings("not-the-secret"))) {
            S3Exception e = assertThrows(S3Exception.class, () -> wrong.read(Digest.sha256(HELLO), 0, -1));
            assertEquals(403, e.status());
            assertTrue(e.getMessage().contains("GET "), e.getMessage());
        }
    }
}
