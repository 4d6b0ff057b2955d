package ocimirror.server.bundle;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import ocimirror.server.progress.Progress;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.BlobWriter;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;

/**
 * A bundle unpacked in a directory (an OCI image layout as skopeo writes {@code oci:DIR}, or an
 * extracted {@code docker save}). Files are read where they are; committing copies one into the
 * blob store, hashing it on the way. Paths stay inside the directory: symbolic links are
 * followed only to files under its real path.
 */
final class DirBundle implements BundleFiles {
    private static final int BUFFER = 1 << 16;

    private final Path root;
    private final BlobStore blobs;
    private final Map<String, BlobInfo> committed = new HashMap<>();

    DirBundle(Path dir, BlobStore blobs) throws IOException {
        this.root = dir.toRealPath();
        this.blobs = blobs;
    }

    private Path file(String path) {
        String p = BundleFiles.normalize(path);
        if (p == null) {
            return null;
        }
        Path f = root.resolve(p);
        try {
            Path real = f.toRealPath();
            return real.startsWith(root) && Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS) ? real : null;
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public String describe() {
        return root.toString();
    }

    @Override
    public boolean exists(String path) {
        return file(path) != null;
    }

    @Override
    public long size(String path) {
        Path f = file(path);
        try {
            return f == null ? -1 : Files.size(f);
        } catch (IOException e) {
            return -1;
        }
    }

    @Override
    public byte[] read(String path, int max) throws IOException {
        Path f = file(path);
        if (f == null) {
            throw new BundleException(root + ": no file " + path);
        }
        long size = Files.size(f);
        if (size > max) {
            throw new BundleException(root + ": " + path + " has " + size + " bytes, more than the " + max + " allowed");
        }
        return Files.readAllBytes(f);
    }

    @Override
    public BlobInfo commit(String path, Digest expected, long expectedSize, Progress progress) throws IOException {
        Path f = file(path);
        if (f == null) {
            throw new BundleException(root + ": no file " + path);
        }
        String key = f.toString();
        BlobInfo done = committed.get(key);
        if (done != null) {
            if (!done.digest().equals(expected)) {
                throw OciError.DIGEST_INVALID.exception("expected " + expected + ", content is " + done.digest());
            }
            return done;
        }
        Optional<BlobInfo> stored = blobs.stat(expected);
        if (stored.isPresent() && (expectedSize < 0 || stored.get().size() == expectedSize)) {
            // Already in the store, verified when it was committed: no need to copy it again.
            committed.put(key, stored.get());
            progress.advance(stored.get().size());
            return stored.get();
        }
        try (BlobWriter w = blobs.newWriter(expected.algorithm()); InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[BUFFER];
            for (int n; (n = in.read(buf)) > 0; ) {
                w.write(ByteBuffer.wrap(buf, 0, n));
                progress.advance(n);
            }
            BlobInfo info = w.commit(expected, expectedSize);
            committed.put(key, info);
            return info;
        }
    }

    @Override
    public void close() {
        // nothing staged: the files stay where they are
    }
}
