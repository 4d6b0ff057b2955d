package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import ocimirror.storage.oci.Digest;

/** A {@link BlobWriter} seen as a {@link BlobUpload} for a digest named up front. */
final class WriterUpload implements BlobUpload {
    private final BlobWriter writer;
    private final Digest expected;

    WriterUpload(BlobWriter writer, Digest expected) {
        this.writer = writer;
        this.expected = expected;
    }

    @Override
    public String id() {
        return writer.id();
    }

    @Override
    public long size() {
        return writer.size();
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
        writer.write(src);
    }

    @Override
    public Digest digest() {
        return expected;
    }

    @Override
    public void commit(long expectedSize) throws IOException {
        writer.commit(expected, expectedSize);
    }

    @Override
    public void abort() {
        writer.abort();
    }

    @Override
    public void close() {
        writer.close();
    }
}
