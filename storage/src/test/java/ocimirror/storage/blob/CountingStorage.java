package ocimirror.storage.blob;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.storage.oci.Digest;

/**
 * A remote {@link BlobStorage} seen through a wrapper that counts reads and can misbehave: for the
 * tier's tests only (the real remotes are {@link FsBlobStore} and S3 behind it).
 */
public final class CountingStorage implements BlobStorage {
    private final BlobStorage remote;
    /** Calls of {@link #read}. */
    public final AtomicInteger reads = new AtomicInteger();
    /** Uploads started. */
    public final AtomicInteger uploads = new AtomicInteger();
    /** Flip the first byte of every read stream. */
    public volatile boolean corrupt;
    /** When set, read streams give no byte before it opens. */
    public volatile CountDownLatch gate;
    /** Runs just before an upload's commit; may throw to play a crash there. */
    public volatile Hook beforeCommit = d -> { };

    public interface Hook {
        void run(Digest digest) throws IOException;
    }

    public CountingStorage(BlobStorage remote) {
        this.remote = remote;
    }

    public BlobStorage remote() {
        return remote;
    }

    @Override
    public OptionalLong size(Digest digest) throws IOException {
        return remote.size(digest);
    }

    @Override
    public Optional<InputStream> read(Digest digest, long offset, long length) throws IOException {
        reads.incrementAndGet();
        return remote.read(digest, offset, length).map(in -> new FilterInputStream(in) {
            private boolean first = true;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                CountDownLatch g = gate;
                if (g != null) {
                    try {
                        if (!g.await(30, TimeUnit.SECONDS)) {
                            throw new IOException("gate never opened");
                        }
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
                int n = super.read(b, off, len);
                if (n > 0 && first && corrupt && offset == 0) {
                    b[off] ^= 1;
                }
                if (n > 0) {
                    first = false;
                }
                return n;
            }

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }
        });
    }

    @Override
    public BlobUpload newUpload(Digest expected) throws IOException {
        uploads.incrementAndGet();
        BlobUpload u = remote.newUpload(expected);
        return new BlobUpload() {
            @Override
            public String id() {
                return u.id();
            }

            @Override
            public long size() {
                return u.size();
            }

            @Override
            public void write(ByteBuffer src) throws IOException {
                u.write(src);
            }

            @Override
            public Digest digest() {
                return u.digest();
            }

            @Override
            public void commit(long expectedSize) throws IOException {
                beforeCommit.run(expected);
                u.commit(expectedSize);
            }

            @Override
            public void abort() {
                u.abort();
            }

            @Override
            public void close() {
                u.close();
            }
        };
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        return remote.delete(digest);
    }

    @Override
    public void close() {
        remote.close();
    }
}
