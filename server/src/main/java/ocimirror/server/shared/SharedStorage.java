package ocimirror.server.shared;

import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import ocimirror.config.MirrorConfig;
import ocimirror.config.SharedBackends;
import ocimirror.storage.Storage;
import ocimirror.storage.blob.TieredBlobStore;
import ocimirror.storage.meta.pg.CachedPgMetadataStore;
import ocimirror.storage.meta.pg.PgMetadataStore;
import ocimirror.storage.meta.pg.PgSettings;
import ocimirror.storage.s3.DefaultAwsCredentials;
import ocimirror.storage.s3.MultipartJanitor;
import ocimirror.storage.s3.S3BlobStore;
import ocimirror.storage.s3.S3Keys;
import ocimirror.storage.s3.S3Location;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a replica's share of the cluster ({@link MirrorConfig#shared()}): the metadata in
 * PostgreSQL behind this replica's memory ({@link CachedPgMetadataStore}; the store under it is
 * the {@code CacheIndex}), the blobs in S3 ({@link S3BlobStore}) behind a bounded local tier under
 * {@code <data>/tier} ({@link TieredBlobStore}), and the janitor that aborts multipart uploads
 * abandoned by dead replicas. Opened in this order, closed in reverse:
 *
 * <ol>
 *   <li>{@code <data>/shared.lock}, locked: a second process on the same data directory (an offline
 *       command beside a running replica) fails here, before it could wipe the tier's ingest files;</li>
 *   <li>PostgreSQL (the pool and the listener; fails if it cannot connect);</li>
 *   <li>S3 and the tier (no request yet: the bucket must exist);</li>
 *   <li>this replica's upload sessions forgotten (their bytes were in the ingest just wiped);</li>
 *   <li>the janitor, hourly, the first time a minute after start; and every 30 s the cluster's blob
 *       total read back (other replicas' writes move it: the cache bound sees them).</li>
 * </ol>
 *
 * <p>The replica id, which owns upload sessions, is the host name and the absolute data
 * directory: unique among replicas (a data directory is locked by one process), stable across
 * restarts of a StatefulSet pod or a systemd unit, and no extra setting. A replica that comes back
 * under another name (a Deployment's new pod) leaves its old sessions to expire.
 */
public final class SharedStorage {
    private static final Logger log = LoggerFactory.getLogger(SharedStorage.class);
    /** A multipart upload older than this is one a dead replica abandoned (a live one ends its own). */
    static final Duration ABANDONED = Duration.ofDays(1);
    private static final Duration JANITOR_EVERY = Duration.ofHours(1);
    private static final Duration JANITOR_FIRST = Duration.ofMinutes(1);
    /** How often the cluster's blob total is read back (other replicas' writes). */
    private static final Duration TOTAL_EVERY = Duration.ofSeconds(30);
    /** Copies from S3 into the tier and uploads following a download, each one thread while it lasts. */
    private static final int COPY_THREADS = 64;

    private SharedStorage() {
    }

    public static Storage open(MirrorConfig config, Clock clock) throws IOException {
        SharedBackends shared = config.shared();
        Path data = config.dataDir().toAbsolutePath().normalize();
        List<AutoCloseable> resources = new ArrayList<>();
        CachedPgMetadataStore metadata = null;
        TieredBlobStore blobs = null;
        try {
            resources.add(lock(data));
            String replicaId = replicaId(data);
            SharedBackends.Postgres pg = shared.postgres();
            metadata = CachedPgMetadataStore.open(new PgSettings(pg.url(), pg.user(), pg.passwordFile(),
                    pg.maxConnections()), clock);
            SharedBackends.S3 s3 = shared.s3();
            S3BlobStore remote = S3BlobStore.open(new S3BlobStore.Settings(
                    new S3Location(s3.endpoint(), s3.region(), s3.bucket(), s3.pathStyle()), new S3Keys(s3.prefix()),
                    DefaultAwsCredentials.fromEnvironment(), 8 << 20, Duration.ofSeconds(60), clock, null, null));
            ThreadPoolExecutor copies = new ThreadPoolExecutor(0, COPY_THREADS, 60, TimeUnit.SECONDS,
                    new SynchronousQueue<>(), new DefaultThreadFactory("ocimirror-tier", true));
            resources.add(shutdown(copies));
            try {
                blobs = TieredBlobStore.open(data.resolve("tier"), remote, shared.tierMaxBytes(), copies);
            } catch (IOException | RuntimeException e) {
                remote.close();
                throw e;
            }
            metadata.clearUploads(replicaId);
            ScheduledExecutorService janitor = Executors.newSingleThreadScheduledExecutor(
                    new DefaultThreadFactory("ocimirror-janitor", true));
            resources.add(shutdown(janitor));
            MultipartJanitor uploads = remote.janitor(clock);
            janitor.scheduleWithFixedDelay(() -> clean(uploads), JANITOR_FIRST.toMillis(), JANITOR_EVERY.toMillis(),
                    TimeUnit.MILLISECONDS);
            if (metadata.index() instanceof PgMetadataStore index) {
                // The other replicas' writes move the cluster's total too: read it back now and then,
                // so that this replica's cache bound (eviction) sees them.
                janitor.scheduleWithFixedDelay(() -> refresh(index), TOTAL_EVERY.toMillis(), TOTAL_EVERY.toMillis(),
                        TimeUnit.MILLISECONDS);
            }
            log.info("shared storage: blobs in {} behind a tier of {} bytes under {}, metadata in {} (replica {})",
                    remote, shared.tierMaxBytes(), data.resolve("tier"), pg.redactedUrl(), replicaId);
            return Storage.of(metadata, metadata.index(), blobs, blobs.tier().paths(), clock, replicaId, resources);
        } catch (IOException | RuntimeException e) {
            if (blobs != null) {
                blobs.close();
            }
            if (metadata != null) {
                metadata.close();
            }
            for (int i = resources.size() - 1; i >= 0; i--) {
                try {
                    resources.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** The host name and the data directory: see the class comment. */
    static String replicaId(Path data) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        return host + ":" + data;
    }

    private static void refresh(PgMetadataStore index) {
        try {
            index.refreshBlobBytes();
        } catch (RuntimeException e) {
            log.debug("reading the cluster's blob total: {}", e.toString());
        }
    }

    private static void clean(MultipartJanitor janitor) {
        try {
            int aborted = janitor.abortOlderThan(ABANDONED);
            if (aborted > 0) {
                log.info("aborted {} multipart uploads abandoned for over {}", aborted, ABANDONED);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("multipart janitor: {}", e.toString());
        }
    }

    private static AutoCloseable shutdown(ExecutorService executor) {
        return executor::shutdownNow;
    }

    /** The data directory's lock; IOException "... lock ..." when another process holds it. */
    private static AutoCloseable lock(Path data) throws IOException {
        Files.createDirectories(data);
        Path file = data.resolve("shared.lock");
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException | IOException e) {
            lock = null;
        }
        if (lock == null) {
            channel.close();
            throw new IOException("another process holds the lock on " + file);
        }
        return channel::close;
    }
}
