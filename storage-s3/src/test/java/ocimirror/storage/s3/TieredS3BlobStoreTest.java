package ocimirror.storage.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import ocimirror.storage.blob.BlobStorage;
import ocimirror.storage.blob.BlobStorageContract;
import ocimirror.storage.blob.BlobUpload;
import ocimirror.storage.blob.TieredBlobStore;
import ocimirror.storage.oci.Digest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link BlobStorageContract} against the local disk tier in front of a real S3 API (s3proxy
 * in this JVM): what a replica of a scaled-out mirror runs. Each test has a prefix of its own in
 * the bucket and a tier directory of its own.
 */
class TieredS3BlobStoreTest extends BlobStorageContract {
    private static final String BUCKET = "tiered";
    private static final int PART = S3BlobStore.MIN_PART_SIZE;
    private static final AtomicInteger TESTS = new AtomicInteger();

    @TempDir
    static Path dir;
    private static S3ProxyServer server;

    @TempDir
    Path tierDir;
    private S3Keys keys;
    private S3Api api; // a second client, to look at the bucket from outside the store
    private ExecutorService copies;
    private TieredBlobStore tier;

    @BeforeAll
    static void startS3() throws Exception {
        server = new S3ProxyServer(dir.resolve("s3"), BUCKET);
    }

    @AfterAll
    static void stopS3() throws Exception {
        server.close();
    }

    @BeforeEach
    void open() throws IOException {
        keys = new S3Keys("t" + TESTS.incrementAndGet() + "/");
        api = S3BlobStore.open(settings()).api();
        copies = Executors.newCachedThreadPool();
        // Ranged GETs of one part each, so a large blob's copy takes several.
        tier = TieredBlobStore.open(tierDir, S3BlobStore.open(settings()), 64L << 20, PART, copies);
    }

    private S3BlobStore.Settings settings() {
        S3Location location = new S3Location(server.endpoint(), "us-east-1", BUCKET, true);
        return S3BlobStore.Settings.of(location, keys,
                        AwsCredentialsProvider.of(new AwsCredentials(S3ProxyServer.IDENTITY, S3ProxyServer.CREDENTIAL, null)))
                .withPartSize(PART);
    }

    @AfterEach
    void close() {
        tier.close();
        api.close();
        copies.shutdownNow();
    }

    @Override
    protected BlobStorage storage() {
        return tier;
    }

    /** Multipart uploads in the bucket and ingest files in the tier. */
    @Override
    protected long leftovers() throws IOException {
        return api.listUploads(keys.blobsPrefix()).size() + files(tierDir.resolve("ingest"));
    }

    /** The larger of the bucket's and the tier's counts: a blob must leave (or never reach) both. */
    @Override
    protected long committedCount() throws IOException {
        return Math.max(api.listKeys(keys.blobsPrefix()).size(), files(tierDir.resolve("blobs")));
    }

    /** Two full parts and a short last one. */
    @Override
    protected int largeSize() {
        return 2 * PART + 12_345;
    }

    private static long files(Path d) throws IOException {
        try (Stream<Path> s = Files.walk(d)) {
            return s.filter(Files::isRegularFile).count();
        }
    }

    @Test
    void aBlobOnlyInTheBucketIsCopiedIntoTheTierByItsFirstRead() throws IOException {
        byte[] big = content(largeSize(), 30);
        Digest d = Digest.sha256(big);
        try (S3BlobStore other = S3BlobStore.open(settings()); BlobUpload u = other.newUpload(d)) {
            u.write(java.nio.ByteBuffer.wrap(big)); // another replica's push
            u.commit(big.length);
        }
        assertEquals(Optional.empty(), tier.stat(d));
        assertEquals(OptionalLong.of(big.length), tier.size(d));
        assertArrayEquals(Arrays.copyOfRange(big, PART - 5, PART + 5), readAll(d, PART - 5, 10));
        assertEquals(Optional.empty(), tier.stat(d), "a range fills nothing");
        try (InputStream in = tier.read(d, 0, -1).orElseThrow()) {
            assertArrayEquals(big, in.readAllBytes());
        }
        assertTrue(tier.stat(d).isPresent());
        assertArrayEquals(big, Files.readAllBytes(tier.stat(d).orElseThrow().path()));
        assertEquals(0, leftovers());
    }
}
