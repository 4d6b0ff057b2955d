package ocimirror.server.bundle;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import ocimirror.server.progress.Progress;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.BlobWriter;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * A bundle tar (plain, gzip, xz or bzip2), read in one pass: a compressed stream cannot be
 * sought, and the entry order is the producer's (index.json may come last). Every regular file
 * streams into its own ingest file of the blob store, hashed on the way; those the bundle's
 * metadata names are committed later (a rename, no second copy), the rest are discarded on
 * {@link #close}. Small files (JSON: manifests, configs, docker save's per-layer metadata) are
 * kept in memory instead, so that a bundle of many images holds an open file per large blob
 * only. Symbolic and hard links (older {@code docker save} links shared layers) are followed
 * inside the archive.
 */
final class TarBundle implements BundleFiles {
    private static final int BUFFER = 1 << 16;
    private static final int MAX_LINK_HOPS = 8;
    /** Files up to this size stay in memory. */
    private static final int SMALL = 64 * 1024;

    private final String name;
    private final BlobStore blobs;
    private final Map<String, BlobWriter> staged = new HashMap<>();
    private final Map<String, byte[]> small = new HashMap<>();
    private final Map<String, String> links = new HashMap<>();
    private final Map<String, BlobInfo> committed = new HashMap<>();

    private TarBundle(String name, BlobStore blobs) {
        this.name = name;
        this.blobs = blobs;
    }

    /** Reads all of {@code file} into the ingest area of {@code blobs}; {@code progress} counts archive bytes. */
    static TarBundle stage(Path file, BlobStore blobs, Progress progress) throws IOException {
        TarBundle bundle = new TarBundle(String.valueOf(file.getFileName()), blobs);
        progress.total(Files.size(file));
        try (InputStream raw = new Counting(Files.newInputStream(file), progress);
             TarArchiveInputStream tar = new TarArchiveInputStream(Compression.open(raw))) {
            byte[] buf = new byte[BUFFER];
            int entries = 0;
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                entries++;
                String path = BundleFiles.normalize(e.getName());
                if (path == null || e.isDirectory()) {
                    continue;
                }
                if (e.isSymbolicLink()) {
                    int slash = path.lastIndexOf('/');
                    String target = e.getLinkName().startsWith("/") ? e.getLinkName()
                            : (slash < 0 ? "" : path.substring(0, slash + 1)) + e.getLinkName();
                    bundle.link(path, BundleFiles.normalize(target));
                } else if (e.isLink()) {
                    bundle.link(path, BundleFiles.normalize(e.getLinkName()));
                } else if (e.isFile()) {
                    bundle.forget(path); // a later entry of the same name replaces it, as tar extracts
                    if (e.getSize() <= SMALL) {
                        bundle.small.put(path, tar.readAllBytes());
                        continue;
                    }
                    BlobWriter w = blobs.newWriter(Digest.Algorithm.SHA256);
                    bundle.staged.put(path, w);
                    for (int n; (n = tar.read(buf)) > 0; ) {
                        w.write(ByteBuffer.wrap(buf, 0, n));
                    }
                }
            }
            if (entries == 0) {
                throw new BundleException(bundle.name + " is not a tar archive (nor a gzip, xz or bzip2 compressed one)");
            }
            return bundle;
        } catch (IOException | RuntimeException e) {
            bundle.close();
            if (e instanceof BundleException b) {
                throw b;
            }
            throw new BundleException(bundle.name + ": cannot read the archive: " + e.getMessage(), e);
        }
    }

    private void link(String path, String target) {
        if (target != null) {
            forget(path);
            links.put(path, target);
        }
    }

    private void forget(String path) {
        links.remove(path);
        small.remove(path);
        BlobWriter w = staged.remove(path);
        if (w != null) {
            w.abort();
        }
    }

    private String resolve(String path) {
        String p = BundleFiles.normalize(path);
        for (int hops = 0; p != null && links.containsKey(p) && hops < MAX_LINK_HOPS; hops++) {
            p = links.get(p);
        }
        return p;
    }

    @Override
    public String describe() {
        return name;
    }

    @Override
    public boolean exists(String path) {
        String p = resolve(path);
        return p != null && (staged.containsKey(p) || small.containsKey(p) || committed.containsKey(p));
    }

    @Override
    public long size(String path) {
        String p = resolve(path);
        if (p == null) {
            return -1;
        }
        BlobInfo done = committed.get(p);
        if (done != null) {
            return done.size();
        }
        if (small.containsKey(p)) {
            return small.get(p).length;
        }
        BlobWriter w = staged.get(p);
        return w == null ? -1 : w.size();
    }

    @Override
    public byte[] read(String path, int max) throws IOException {
        String p = resolve(path);
        if (p != null && small.containsKey(p)) {
            return small.get(p);
        }
        BlobInfo done = p == null ? null : committed.get(p);
        BlobWriter w = p == null ? null : staged.get(p);
        if (done == null && w == null) {
            throw new BundleException(name + ": no file " + path);
        }
        long size = done != null ? done.size() : w.size();
        if (size > max) {
            throw new BundleException(name + ": " + path + " has " + size + " bytes, more than the " + max + " allowed");
        }
        // The ingest file holds every byte written so far: writes go straight to the channel.
        return Files.readAllBytes(done != null ? done.path() : w.ingestPath());
    }

    @Override
    public BlobInfo commit(String path, Digest expected, long expectedSize, Progress progress) throws IOException {
        String p = resolve(path);
        BlobInfo done = p == null ? null : committed.get(p);
        if (done != null) {
            if (!done.digest().equals(expected)) {
                throw OciError.DIGEST_INVALID.exception("expected " + expected + ", content is " + done.digest());
            }
            return done;
        }
        byte[] bytes = p == null ? null : small.get(p);
        BlobWriter w = p == null ? null : staged.remove(p);
        if (w == null && bytes == null) {
            throw new BundleException(name + ": no file " + path);
        }
        BlobInfo info;
        if (bytes != null) {
            if (expectedSize >= 0 && bytes.length != expectedSize) {
                throw OciError.SIZE_INVALID.exception("expected " + expectedSize + " bytes, got " + bytes.length);
            }
            info = blobs.put(bytes, expected);
        } else {
            info = w.commit(expected, expectedSize);
        }
        committed.put(p, info);
        progress.advance(info.size());
        return info;
    }

    @Override
    public void close() {
        staged.values().forEach(BlobWriter::abort);
        staged.clear();
        small.clear();
    }

    /** Counts the archive's bytes as they are read, compressed or not. */
    private static final class Counting extends FilterInputStream {
        private final Progress progress;

        Counting(InputStream in, Progress progress) {
            super(in);
            this.progress = progress;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                progress.advance(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                progress.advance(n);
            }
            return n;
        }
    }
}
