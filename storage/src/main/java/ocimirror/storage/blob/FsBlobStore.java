package ocimirror.storage.blob;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import ocimirror.storage.oci.Digest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blobs as files under the layout of {@link BlobPaths}. A writer streams into
 * {@code ingest/<uuid>}, hashing as it goes; commit checks size and digest, fsyncs the file,
 * renames it atomically into {@code blobs/} and fsyncs the directory, so after a crash there
 * is either no blob or a whole, verified one. Whatever is left in {@code ingest/} is wiped by
 * {@link #open}; {@code blobs/} is never scanned, so start-up time does not grow with the store.
 *
 * <p>Thread-safe. Two writers may commit the same digest at once: both succeed and one file
 * results (the content is identical, so which rename wins does not matter). Directories under
 * {@code blobs/} are never removed, so a commit never races a directory deletion.
 */
public final class FsBlobStore implements BlobStore {
    private static final Logger log = LoggerFactory.getLogger(FsBlobStore.class);

    private final BlobPaths paths;
    private final Set<FsBlobWriter> open = ConcurrentHashMap.newKeySet();
    private final BlobHolds holds = new BlobHolds();
    /**
     * Small blobs read recently (manifests above all), weighed by their bytes. Coherent with the
     * files: {@link #delete} forgets a digest after unlinking it, and Caffeine's invalidate waits
     * for a read of the same digest in progress, so a deleted blob is never served from here.
     */
    private final Cache<Digest, BlobContent> small = Caffeine.newBuilder()
            .maximumWeight(SMALL_CACHE_BYTES)
            .weigher((Digest d, BlobContent c) -> c.bytes().length)
            .build();
    private volatile boolean closed;

    /** Bytes of small blobs kept in memory: thousands of manifests, a fraction of the heap. */
    static final long SMALL_CACHE_BYTES = 32L << 20;

    private FsBlobStore(BlobPaths paths) {
        this.paths = paths;
    }

    /** Opens the store under {@code dataDir}; see {@link #open(BlobPaths)}. */
    public static FsBlobStore open(Path dataDir) throws IOException {
        return open(new BlobPaths(dataDir));
    }

    /**
     * Creates the directories if needed and deletes everything in {@code ingest/} (leftovers of
     * a previous run: no upload or download survives a restart). The caller must make sure no
     * other process uses the same data directory ({@code Storage} holds the RocksDB lock first).
     */
    public static FsBlobStore open(BlobPaths paths) throws IOException {
        requireNonNull(paths, "paths");
        Files.createDirectories(paths.ingestDir());
        for (Digest.Algorithm algorithm : Digest.Algorithm.values()) {
            Files.createDirectories(paths.algorithmDir(algorithm));
        }
        int wiped = wipe(paths.ingestDir());
        if (wiped > 0) {
            log.info("deleted {} leftover ingest file(s) in {}", wiped, paths.ingestDir());
        }
        return new FsBlobStore(paths);
    }

    public BlobPaths paths() {
        return paths;
    }

    /** One {@code stat} of the blob's file; no metadata lookup. */
    @Override
    public Optional<BlobInfo> stat(Digest digest) {
        Path path = paths.blob(digest);
        try {
            BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class);
            return attrs.isRegularFile() ? Optional.of(new BlobInfo(digest, attrs.size(), path)) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("stat " + path, e);
        }
    }

    @Override
    public OptionalLong size(Digest digest) {
        Optional<BlobInfo> info = stat(digest);
        return info.isPresent() ? OptionalLong.of(info.get().size()) : OptionalLong.empty();
    }

    @Override
    public Optional<InputStream> read(Digest digest, long offset, long length) throws IOException {
        if (offset < 0 || length < -1) {
            throw new IllegalArgumentException("offset " + offset + ", length " + length);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(paths.blob(digest), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        InputStream in = Channels.newInputStream(ch.position(offset));
        return Optional.of(length < 0 ? in : new BoundedInputStream(in, length));
    }

    @Override
    public Optional<BlobContent> content(Digest digest) {
        BlobContent hit = small.getIfPresent(digest);
        if (hit != null) {
            return Optional.of(hit);
        }
        Optional<BlobInfo> info = stat(digest);
        if (info.isEmpty() || info.get().size() > SMALL_BLOB_BYTES) {
            return info.map(i -> new BlobContent(i, null));
        }
        return Optional.ofNullable(small.get(digest, d -> read(info.get())));
    }

    /** The small blob's bytes, or null if its file went away (or changed size) meanwhile. */
    private static BlobContent read(BlobInfo info) {
        try {
            byte[] bytes = Files.readAllBytes(info.path());
            return bytes.length == info.size() ? new BlobContent(info, bytes) : null;
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("read " + info.path(), e);
        }
    }

    /**
     * A new writer on {@code ingest/<uuid>}. It hashes sha256 always and {@code algorithm} as
     * well if that is sha512; committing against a digest of an algorithm it did not hash
     * re-reads the file once.
     */
    @Override
    public BlobWriter newWriter(Digest.Algorithm algorithm) throws IOException {
        requireNonNull(algorithm, "algorithm");
        if (closed) {
            throw new IllegalStateException("blob store is closed");
        }
        UUID id = UUID.randomUUID();
        FsBlobWriter writer = new FsBlobWriter(this, id.toString(), paths.ingest(id), algorithm);
        open.add(writer);
        if (closed) { // close() ran meanwhile and may have missed this writer
            writer.abort();
            throw new IllegalStateException("blob store is closed");
        }
        return writer;
    }

    /** A {@link #newWriter} seen as a {@link BlobUpload}. */
    @Override
    public BlobUpload newUpload(Digest expected) throws IOException {
        return new WriterUpload(newWriter(expected.algorithm()), expected);
    }

    @Override
    public BlobInfo put(byte[] bytes, Digest expected) throws IOException {
        try (BlobWriter writer = newWriter(expected == null ? Digest.Algorithm.SHA256 : expected.algorithm())) {
            writer.write(ByteBuffer.wrap(bytes));
            return writer.commit(expected, bytes.length);
        }
    }

    @Override
    public BlobHolds holds() {
        return holds;
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        try {
            return Files.deleteIfExists(paths.blob(digest));
        } finally {
            small.invalidate(digest);
        }
    }

    /** Aborts the writers still open (their ingest files are deleted). */
    @Override
    public void close() {
        closed = true;
        for (FsBlobWriter writer : List.copyOf(open)) {
            writer.abort();
        }
    }

    /** Moves a verified, fsynced ingest file into place. Called by the writer's commit. */
    BlobInfo install(Path ingest, Digest digest, long size) throws IOException {
        Path target = paths.blob(digest);
        if (Files.exists(target)) {
            Files.deleteIfExists(ingest);
            return new BlobInfo(digest, size, target);
        }
        Path dir = target.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            fsyncDirectory(dir.getParent());
        }
        try {
            // On Linux this is rename(2): it replaces an identical blob committed meanwhile.
            Files.move(ingest, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException e) {
            Files.deleteIfExists(ingest);
            return new BlobInfo(digest, size, target);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("ingest/ and blobs/ must be on one file system", e);
        }
        fsyncDirectory(dir);
        return new BlobInfo(digest, size, target);
    }

    void finished(FsBlobWriter writer) {
        open.remove(writer);
    }

    /** Makes a rename or creation in {@code dir} durable. */
    private static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    private static int wipe(Path dir) throws IOException {
        int count = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                deleteTree(entry);
                count++;
            }
        }
        return count;
    }

    private static void deleteTree(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    @Override
    public String toString() {
        return "FsBlobStore[" + paths.root() + "]";
    }
}
