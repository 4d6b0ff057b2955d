package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import ocimirror.storage.blob.BlobStorage;
import ocimirror.storage.blob.BlobUpload;
import ocimirror.storage.oci.Digest;

/**
 * Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW), under the keys of
 * {@link S3Keys}. S3 has no rename, so the "ingest then rename" of the file store becomes a
 * multipart upload on the blob's own key: parts go up as bytes arrive, hashed on the way, and
 * the upload is completed (made visible, atomically) only once size and digest match; it is
 * aborted otherwise, and when an upload is closed without a commit. A blob smaller than one
 * part is checked first and then sent in a single PUT. Uploads abandoned by a replica that
 * died are aborted by the {@link MultipartJanitor}.
 *
 * <p>There is no local path, so this is a {@link BlobStorage}, meant to sit behind a local disk
 * tier, not a {@code BlobStore}. The bucket should not keep versions: committing a blob again
 * (two replicas fetching the same layer) overwrites it with the same bytes.
 *
 * <p>Thread-safe. Every method blocks on the network: call them on storage threads.
 */
public final class S3BlobStore implements BlobStorage {
    /** S3's smallest part (but the last): 5 MiB. */
    public static final int MIN_PART_SIZE = 5 << 20;
    /** S3's largest number of parts in one upload. */
    static final int MAX_PARTS = 10_000;

    private final S3Api api;
    private final S3Keys keys;
    private final int partSize;
    private final Set<S3BlobUpload> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * How to reach the bucket and how to upload.
     *
     * @param partSize bytes per part of a multipart upload (and the largest blob sent in one PUT);
     *     it bounds the memory of each upload in flight and, times {@value #MAX_PARTS}, the largest blob
     * @param timeout for a connection, and for each answer or stretch of a body to arrive
     * @param group the event loops of the caller (the server's) and their channel type, or null for
     *     a NIO loop of the store's own
     */
    public record Settings(S3Location location, S3Keys keys, AwsCredentialsProvider credentials, int partSize,
            Duration timeout, Clock clock, EventLoopGroup group, Class<? extends Channel> channelType) {
        public Settings {
            requireNonNull(location, "location");
            requireNonNull(keys, "keys");
            requireNonNull(credentials, "credentials");
            requireNonNull(timeout, "timeout");
            requireNonNull(clock, "clock");
            if (partSize < MIN_PART_SIZE) {
                throw new IllegalArgumentException("part size " + partSize + " is below S3's minimum " + MIN_PART_SIZE);
            }
        }

        /** 8 MiB parts, 60 s timeout, the system clock, a loop of the store's own. */
        public static Settings of(S3Location location, S3Keys keys, AwsCredentialsProvider credentials) {
            return new Settings(location, keys, credentials, 8 << 20, Duration.ofSeconds(60), Clock.systemUTC(), null, null);
        }

        public Settings withPartSize(int bytes) {
            return new Settings(location, keys, credentials, bytes, timeout, clock, group, channelType);
        }
    }

    private S3BlobStore(S3Api api, S3Keys keys, int partSize) {
        this.api = api;
        this.keys = keys;
        this.partSize = partSize;
    }

    /** Opens the store; makes no request yet (the bucket must exist). */
    public static S3BlobStore open(Settings settings) throws IOException {
        S3Http http = new S3Http(settings.location(), settings.credentials(),
                new SigV4Signer(settings.location().region(), settings.clock()), settings.timeout(),
                settings.group(), settings.channelType());
        return new S3BlobStore(new S3Api(http), settings.keys(), settings.partSize());
    }

    public S3Keys keys() {
        return keys;
    }

    /** One HEAD request. */
    @Override
    public OptionalLong size(Digest digest) throws IOException {
        return api.head(keys.blob(digest));
    }

    /** One GET, with a {@code Range} unless the whole blob is asked for. */
    @Override
    public Optional<InputStream> read(Digest digest, long offset, long length) throws IOException {
        if (offset < 0 || length < -1) {
            throw new IllegalArgumentException("offset " + offset + ", length " + length);
        }
        return api.get(keys.blob(digest), offset, length);
    }

    @Override
    public BlobUpload newUpload(Digest expected) throws IOException {
        requireNonNull(expected, "expected");
        if (closed) {
            throw new IllegalStateException("blob store is closed");
        }
        S3BlobUpload upload = new S3BlobUpload(this, expected);
        open.add(upload);
        if (closed) { // close() ran meanwhile and may have missed this upload
            upload.abort();
            throw new IllegalStateException("blob store is closed");
        }
        return upload;
    }

    /**
     * A HEAD, then a DELETE. Two replicas deleting at once may both answer true; S3 keeps no
     * count of who deleted, and the metadata store is what decides who owns a delete.
     */
    @Override
    public boolean delete(Digest digest) throws IOException {
        String key = keys.blob(digest);
        if (api.head(key).isEmpty()) {
            return false;
        }
        api.delete(key);
        return true;
    }

    /** A janitor for this store's abandoned multipart uploads. */
    public MultipartJanitor janitor(Clock clock) {
        return new MultipartJanitor(api, keys, clock);
    }

    /** Aborts the uploads still open, then closes the connections. */
    @Override
    public void close() {
        closed = true;
        for (S3BlobUpload upload : List.copyOf(open)) {
            upload.abort();
        }
        api.close();
    }

    S3Api api() {
        return api;
    }

    int partSize() {
        return partSize;
    }

    void finished(S3BlobUpload upload) {
        open.remove(upload);
    }

    @Override
    public String toString() {
        return "S3BlobStore[" + keys.blobsPrefix() + "]";
    }
}
