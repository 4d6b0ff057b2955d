package ocimirror.storage.blob;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlobStore} whose blobs live in a shared remote {@link BlobStorage} (S3) and, when hot,
 * in a bounded local directory (an {@link FsBlobStore}, the "tier"): what a replica of a scaled-out
 * mirror serves from. The server uses it as it uses a plain {@code FsBlobStore}.
 *
 * <p><b>Reads.</b> A blob in the tier is the local file: {@link #stat} gives its path (sendfile)
 * and {@link #content} its bytes, exactly as on one node; both look at the tier only, so they stay
 * cheap enough for an event loop, and presence in the cluster is the metadata's business (or
 * {@link #size}'s, which asks the remote). A whole-blob {@link #read} that misses the tier copies
 * the blob from the remote into a tier ingest file in ranged GETs and streams that growing file to
 * the reader as it fills ({@link TierFill}); concurrent readers of the same blob join that one copy.
 * The copy commits only after the size and digest check, and readers never get the last byte
 * before it: bytes the remote got wrong never land in the tier nor reach a reader as a whole body.
 * A ranged read of a blob not in the tier is a ranged GET on the remote and fills nothing (lazy
 * pullers and resumed downloads read a little of a big blob: copying it all would cost the whole
 * blob's transfer and evict hot blobs for a few KiB); it joins a copy in progress that has
 * already reached its offset.
 *
 * <p><b>Writes.</b> A writer writes a local ingest file as {@code FsBlobStore} does (the
 * pull-through's followers tail it unchanged). {@link BlobWriter#commit} completes the remote
 * upload, which checks the digest and completes only on a match, and only then installs the local
 * file: when commit returns the blob is durable remotely, so a caller that records metadata after
 * commit (as the server does) never announces a blob the remote lacks, and a crash before that
 * leaves nothing visible (the tier's ingest is wiped at start, an unfinished multipart upload is
 * aborted by the remote's janitor). When the digest is named up front ({@link #newWriterFor},
 * {@link #newUpload}: a pull-through download) the upload starts at once and follows the growing
 * ingest file on a thread of its own ({@link RemoteTail}), so the commit waits only for the
 * remote's lag: one pass, and a slow remote never throttles the local write (S3 sends each part
 * synchronously; a tee in the write path would stall the upstream download and every follower at
 * each part). When it is not ({@link #newWriter}: a chunked push names it at its end), commit
 * uploads the whole file then. Measured on s3proxy (loopback, a loaded 2-core machine), 128 MiB
 * written at about 40 MB/s as from an upstream: commit took 0.08-0.09 s with the file store alone,
 * 1.8-4.9 s uploading after the last byte, 0.44-0.47 s with the upload following the writes. A blob
 * the remote already holds with that size is not sent again by commit (the local commit still
 * verifies its bytes).
 *
 * <p><b>Bounds.</b> The tier holds at most {@code maxBytes} of committed blobs (ingest files of
 * copies and writes in progress come on top). Past it, blobs are deleted least recently read
 * first: the order is kept in memory (a stamp per blob, set by {@link #stat}, {@link #content} and
 * {@link #read}) and rebuilt at start from the files' modification times. Eviction claims a blob
 * in {@link #holds()} first and skips one somebody holds, so a reader that took a hold before
 * looking up the path never loses the file in between; a reader that already has the file open
 * keeps reading it after the unlink. {@link #delete} removes the blob from the remote and the tier.
 *
 * <p>Not wired into {@code serve} yet: the server's pull-through fetch would name its digest
 * ({@code newWriterFor}) to get the followed upload, and record a blob only after commit, as now.
 *
 * <p>Thread-safe. Copies from the remote and followed uploads each take a thread of the given
 * executor while they last (blocking I/O); writers and reads block like the remote's and run on
 * storage threads.
 */
public final class TieredBlobStore implements BlobStore {
    private static final Logger log = LoggerFactory.getLogger(TieredBlobStore.class);

    /** Bytes per ranged GET of a copy into the tier. */
    public static final long DEFAULT_WINDOW = 64L << 20;

    private final FsBlobStore local;
    private final BlobStorage remote;
    private final long maxBytes;
    private final long window;
    private final Executor copies;
    private final ConcurrentHashMap<Digest, Entry> lru = new ConcurrentHashMap<>();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong clock = new AtomicLong();
    private final Object evicting = new Object();
    private final ConcurrentHashMap<Digest, TierFill> fills = new ConcurrentHashMap<>();
    private final Set<TierWriter> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder copiesStarted = new LongAdder();

    /** A blob in the tier: its size and when it was last read (a tick of {@link #clock}). */
    private static final class Entry {
        final long size;
        volatile long stamp;

        Entry(long size, long stamp) {
            this.size = size;
            this.stamp = stamp;
        }
    }

    private TieredBlobStore(FsBlobStore local, BlobStorage remote, long maxBytes, long window, Executor copies) {
        this.local = local;
        this.remote = remote;
        this.maxBytes = maxBytes;
        this.window = window;
        this.copies = copies;
    }

    /**
     * Opens the tier under {@code tierDir} (an {@link FsBlobStore} layout; its ingest files are
     * wiped) in front of {@code remote}, and counts the blobs already there, oldest first. The tier
     * owns both stores: {@link #close} closes them.
     *
     * @param copies where copies from the remote run; one thread each while they last
     */
    public static TieredBlobStore open(Path tierDir, BlobStorage remote, long maxBytes, Executor copies)
            throws IOException {
        return open(tierDir, remote, maxBytes, DEFAULT_WINDOW, copies);
    }

    /** As {@link #open(Path, BlobStorage, long, Executor)}, with {@code window} bytes per ranged GET. */
    public static TieredBlobStore open(Path tierDir, BlobStorage remote, long maxBytes, long window, Executor copies)
            throws IOException {
        requireNonNull(remote, "remote");
        requireNonNull(copies, "copies");
        if (maxBytes <= 0 || window <= 0) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + ", window " + window);
        }
        FsBlobStore local = FsBlobStore.open(tierDir);
        TieredBlobStore tier = new TieredBlobStore(local, remote, maxBytes, window, copies);
        tier.scan();
        tier.evict(null);
        return tier;
    }

    /** Counts the tier's files into the order, least recently modified first. */
    private void scan() throws IOException {
        record Found(Digest digest, long size, long modified) {
        }
        List<Found> found = new ArrayList<>();
        for (Digest.Algorithm algorithm : Digest.Algorithm.values()) {
            try (Stream<Path> files = Files.walk(local.paths().algorithmDir(algorithm))) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    String name = algorithm.prefix() + ":" + f.getFileName();
                    if (!Digest.isDigest(name)) {
                        continue; // not ours
                    }
                    found.add(new Found(Digest.parse(name), Files.size(f), Files.getLastModifiedTime(f).toMillis()));
                }
            }
        }
        found.sort(Comparator.comparingLong(Found::modified));
        for (Found f : found) {
            lru.put(f.digest(), new Entry(f.size(), clock.incrementAndGet()));
            bytes.addAndGet(f.size());
        }
        log.info("local tier {}: {} blob(s), {} bytes of {}", local.paths().root(), found.size(), bytes.get(), maxBytes);
    }

    /** Bytes of committed blobs in the tier now. */
    public long tierBytes() {
        return bytes.get();
    }

    /** The local tier alone (for tests and maintenance). */
    public FsBlobStore tier() {
        return local;
    }

    /** The tier's file, if the blob is in the tier; never asks the remote. */
    @Override
    public Optional<BlobInfo> stat(Digest digest) {
        Optional<BlobInfo> info = local.stat(digest);
        if (info.isPresent()) {
            touch(digest);
            hits.increment();
        } else {
            misses.increment();
        }
        return info;
    }

    /** The blob from the tier, with its bytes when small; never asks the remote. */
    @Override
    public Optional<BlobContent> content(Digest digest) {
        Optional<BlobContent> content = local.content(digest);
        if (content.isPresent()) {
            touch(digest);
            hits.increment();
        } else {
            misses.increment();
        }
        return content;
    }

    /**
     * The copy of {@code digest} from the remote into the tier, started unless one runs: a blob
     * that readers stream as it fills ({@link GrowingBlob}), shared with {@link #read}'s readers.
     * Empty when the tier holds the blob (look again with {@link #stat}) or the remote lacks it.
     * One HEAD request on the remote unless a copy runs: storage threads only.
     */
    @Override
    public Optional<GrowingBlob> copying(Digest digest) throws IOException {
        if (local.stat(digest).isPresent()) {
            return Optional.empty();
        }
        TierFill fill = fills.get(digest);
        if (fill == null) {
            OptionalLong size = remote.size(digest);
            if (size.isEmpty()) {
                return Optional.empty();
            }
            fill = fill(digest, size.getAsLong());
        }
        return Optional.ofNullable(fill);
    }

    /** From the tier, else copied from the remote into the tier first (whole: manifests and configs are small). */
    @Override
    public Optional<BlobContent> fetchContent(Digest digest) throws IOException {
        Optional<BlobContent> content = content(digest);
        if (content.isPresent()) {
            return content;
        }
        Optional<InputStream> in = read(digest, 0, -1);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream body = in.get()) {
            body.transferTo(OutputStream.nullOutputStream()); // the last byte comes after the copy's commit
        }
        return local.content(digest);
    }

    /** Lookups ({@link #stat}, {@link #content}) the tier answered. */
    public long hits() {
        return hits.sum();
    }

    /** Lookups the tier could not answer (the blob is in the remote, or nowhere). */
    public long misses() {
        return misses.sum();
    }

    /** Copies from the remote into the tier started. */
    public long copies() {
        return copiesStarted.sum();
    }

    /** From the tier, else one request to the remote. */
    @Override
    public OptionalLong size(Digest digest) throws IOException {
        OptionalLong size = local.size(digest);
        return size.isPresent() ? size : remote.size(digest);
    }

    @Override
    public Optional<InputStream> read(Digest digest, long offset, long length) throws IOException {
        if (offset < 0 || length < -1) {
            throw new IllegalArgumentException("offset " + offset + ", length " + length);
        }
        boolean whole = offset == 0 && length < 0;
        for (int attempt = 0; attempt < 3; attempt++) {
            Optional<InputStream> hit = local.read(digest, offset, length);
            if (hit.isPresent()) {
                touch(digest);
                return hit;
            }
            TierFill fill = fills.get(digest);
            if (fill == null && whole) {
                OptionalLong size = remote.size(digest);
                if (size.isEmpty()) {
                    return Optional.empty();
                }
                fill = fill(digest, size.getAsLong());
                if (fill == null) {
                    continue; // in the tier now
                }
            }
            if (fill == null || offset > fill.available()) {
                break;
            }
            InputStream in = fill.open(offset, length);
            if (in != null) {
                return Optional.of(in);
            }
            // that copy has just ended: the tier holds the blob now, or the copy failed
        }
        return remote.read(digest, offset, length);
    }

    /** The copy of {@code digest} in progress, or a new one; null if the tier holds the blob meanwhile. */
    private TierFill fill(Digest digest, long size) throws IOException {
        if (closed) {
            throw new IllegalStateException("blob store is closed");
        }
        TierFill[] created = new TierFill[1];
        TierFill fill;
        try {
            fill = fills.computeIfAbsent(digest, d -> {
                if (local.stat(d).isPresent()) {
                    return null;
                }
                try {
                    created[0] = new TierFill(d, size, local.newWriter(d.algorithm()), local::stat);
                    return created[0];
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        TierFill mine = created[0];
        if (mine != null) {
            copiesStarted.increment();
            Runnable copy = () -> mine.run(remote, window, w -> install(digest, () -> w.commit(digest, size)),
                    () -> fills.remove(digest, mine));
            try {
                copies.execute(copy);
            } catch (RejectedExecutionException e) {
                mine.cancel();
                copy.run(); // fails at once and wakes the readers who joined
            }
        }
        return fill;
    }

    @Override
    public BlobWriter newWriter(Digest.Algorithm algorithm) throws IOException {
        if (closed) {
            throw new IllegalStateException("blob store is closed");
        }
        return track(new TierWriter(this, local.newWriter(algorithm), null, null));
    }

    /**
     * As {@link #newWriter}, and the remote upload starts at once on the copies executor, following
     * the ingest file as it grows: commit then waits only for the remote's lag, not a whole upload.
     */
    @Override
    public BlobWriter newWriterFor(Digest expected) throws IOException {
        if (closed) {
            throw new IllegalStateException("blob store is closed");
        }
        BlobWriter writer = local.newWriter(expected.algorithm());
        RemoteTail tail;
        try {
            tail = new RemoteTail(remote.newUpload(expected), writer.ingestPath());
        } catch (IOException | RuntimeException e) {
            writer.abort();
            throw e;
        }
        try {
            copies.execute(tail);
        } catch (RejectedExecutionException e) {
            tail.notStarted();
            tail = null; // the commit uploads the file
        }
        return track(new TierWriter(this, writer, tail, expected));
    }

    private TierWriter track(TierWriter writer) {
        open.add(writer);
        if (closed) { // close() ran meanwhile and may have missed this writer
            writer.abort();
            throw new IllegalStateException("blob store is closed");
        }
        return writer;
    }

    @Override
    public BlobUpload newUpload(Digest expected) throws IOException {
        return new WriterUpload(newWriterFor(expected), expected);
    }

    @Override
    public BlobInfo put(byte[] bytes, Digest expected) throws IOException {
        try (BlobWriter writer = newWriter(expected == null ? Digest.Algorithm.SHA256 : expected.algorithm())) {
            writer.write(java.nio.ByteBuffer.wrap(bytes));
            return writer.commit(expected, bytes.length);
        }
    }

    /** The tier's holds: the server's readers and writers hold here, eviction claims here. */
    @Override
    public BlobHolds holds() {
        return local.holds();
    }

    /** Deletes the blob from the remote, then from the tier; true if either had it. */
    @Override
    public boolean delete(Digest digest) throws IOException {
        boolean remoteHad = remote.delete(digest);
        Entry e = lru.remove(digest);
        if (e != null) {
            bytes.addAndGet(-e.size);
        }
        return local.delete(digest) || remoteHad;
    }

    /** Aborts writers and copies in progress, then closes the tier and the remote. */
    @Override
    public void close() {
        closed = true;
        for (TierWriter writer : List.copyOf(open)) {
            writer.abort();
        }
        fills.values().forEach(TierFill::cancel);
        local.close();
        remote.close();
    }

    /** Copies a writer's bytes into a verified remote blob, unless the remote has it already. */
    void toRemote(Digest digest, long size, Copier copier) throws IOException {
        if (remote.size(digest).equals(OptionalLong.of(size))) {
            return;
        }
        try (BlobUpload upload = remote.newUpload(digest)) {
            copier.copy(upload);
            upload.commit(size);
        }
    }

    interface Copier {
        void copy(BlobUpload upload) throws IOException;
    }

    interface Commit {
        BlobInfo commit() throws IOException;
    }

    /**
     * Commits a local writer under a hold on the digest (so that an eviction of the same digest
     * either finished before or waits), counts the blob in, and evicts down to the bound, sparing
     * the blob just installed (its caller is about to use the path).
     */
    BlobInfo install(Digest digest, Commit commit) throws IOException {
        BlobInfo info;
        try (BlobHolds.Hold hold = holds().hold(digest)) {
            info = commit.commit();
            Entry fresh = new Entry(info.size(), clock.incrementAndGet());
            if (lru.putIfAbsent(digest, fresh) == null) {
                bytes.addAndGet(info.size());
            } else {
                touch(digest);
            }
        }
        evict(digest);
        return info;
    }

    void finished(TierWriter writer) {
        open.remove(writer);
    }

    private void touch(Digest digest) {
        Entry e = lru.get(digest);
        if (e != null) {
            e.stamp = clock.incrementAndGet();
        }
    }

    /** Deletes least recently read blobs until the tier is within its bound; skips held ones and {@code spare}. */
    private void evict(Digest spare) {
        if (bytes.get() <= maxBytes) {
            return;
        }
        synchronized (evicting) {
            List<Map.Entry<Digest, Entry>> order = new ArrayList<>(lru.entrySet());
            order.sort(Comparator.comparingLong(m -> m.getValue().stamp));
            for (Map.Entry<Digest, Entry> m : order) {
                if (bytes.get() <= maxBytes) {
                    return;
                }
                Digest d = m.getKey();
                if (d.equals(spare) || !holds().tryClaim(d)) {
                    continue;
                }
                try {
                    if (lru.remove(d, m.getValue())) {
                        bytes.addAndGet(-m.getValue().size);
                        local.delete(d);
                    }
                } catch (IOException e) {
                    log.warn("evicting {} from the local tier: {}", d, e.toString());
                } finally {
                    holds().releaseClaim(d);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "TieredBlobStore[" + local.paths().root() + " -> " + remote + "]";
    }
}
