package ocimirror.storage;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import ocimirror.storage.blob.BlobPaths;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.FsBlobStore;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.RocksMetadataStore;
import ocimirror.storage.meta.UploadRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The blob store and the metadata store the server runs on, opened and closed together: those of
 * one data directory ({@link #open}), or any other set ({@link #of}: the shared backends of a
 * scaled-out replica, opened by the server).
 *
 * <pre>
 * &lt;data&gt;/blobs/&lt;algo&gt;/&lt;xx&gt;/&lt;hex&gt;   committed, verified content, manifests included ({@link BlobPaths})
 * &lt;data&gt;/ingest/&lt;uuid&gt;           in-flight uploads and downloads; wiped at every open
 * &lt;data&gt;/meta/                    RocksDB: tags, manifests, links, referrers, repos, blobs, uploads,
 *                                  lru, refs, pins (and the blob byte total)
 * </pre>
 *
 * <p>Open takes RocksDB's lock on {@code meta/} first, so a second process on the same
 * directory fails before it could wipe the first one's ingest files. Then it wipes
 * {@code ingest/} and forgets the upload sessions it owns (on a single node, all of them:
 * {@link UploadRecord#LOCAL}): no upload survives a restart, and nothing at start-up scans
 * the blobs. Close runs in reverse order.
 */
public final class Storage implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Storage.class);

    private final MetadataStore metadata;
    private final CacheIndex index;
    private final BlobStore blobs;
    private final BlobPaths paths;
    private final Clock clock;
    private final String replicaId;
    private final List<AutoCloseable> resources;

    private Storage(MetadataStore metadata, CacheIndex index, BlobStore blobs, BlobPaths paths, Clock clock,
                    String replicaId, List<AutoCloseable> resources) {
        this.metadata = requireNonNull(metadata, "metadata");
        this.index = requireNonNull(index, "index");
        this.blobs = requireNonNull(blobs, "blobs");
        this.paths = requireNonNull(paths, "paths");
        this.clock = requireNonNull(clock, "clock");
        this.replicaId = requireNonNull(replicaId, "replicaId");
        this.resources = List.copyOf(resources);
    }

    public static Storage open(Path dataDir, Clock clock) throws IOException {
        requireNonNull(dataDir, "dataDir");
        requireNonNull(clock, "clock");
        RocksMetadataStore metadata = RocksMetadataStore.open(dataDir.resolve("meta"), clock);
        try {
            FsBlobStore blobs = FsBlobStore.open(dataDir);
            metadata.clearUploads(UploadRecord.LOCAL);
            return new Storage(metadata, metadata, blobs, blobs.paths(), clock, UploadRecord.LOCAL, List.of());
        } catch (IOException | RuntimeException e) {
            metadata.close();
            throw e;
        }
    }

    /**
     * Stores opened by the caller, which this storage now owns. Close runs: the blob store, the
     * metadata store, then {@code resources} last to first (list them in the order they were
     * opened: a lock first, a scheduler after). The caller has already cleared this replica's
     * upload sessions.
     *
     * @param index     the metadata as eviction, garbage collection and verify see it (often the
     *                  same store, or the one under a cache)
     * @param paths     the local layout of {@code blobs} (the ingest directory readiness checks,
     *                  the blob directory the size probe measures)
     * @param replicaId the owner of the upload sessions this process records
     */
    public static Storage of(MetadataStore metadata, CacheIndex index, BlobStore blobs, BlobPaths paths, Clock clock,
                             String replicaId, List<? extends AutoCloseable> resources) {
        return new Storage(metadata, index, blobs, paths, clock, replicaId, new ArrayList<>(resources));
    }

    public BlobStore blobs() {
        return blobs;
    }

    public MetadataStore metadata() {
        return metadata;
    }

    /** The metadata as eviction, garbage collection and verify see it. */
    public CacheIndex index() {
        return index;
    }

    /** The on-disk layout of {@link #blobs()} (of its local tier, for a shared store). */
    public BlobPaths paths() {
        return paths;
    }

    public Clock clock() {
        return clock;
    }

    /** Who owns the upload sessions this process records ({@link UploadRecord#LOCAL} on a single node). */
    public String replicaId() {
        return replicaId;
    }

    /** Aborts open blob writers, then closes the metadata store, then the other resources, newest first. */
    @Override
    public void close() {
        try {
            blobs.close();
        } finally {
            try {
                metadata.close();
            } finally {
                for (int i = resources.size() - 1; i >= 0; i--) {
                    try {
                        resources.get(i).close();
                    } catch (Exception e) {
                        log.warn("closing {}: {}", resources.get(i), e.toString());
                    }
                }
            }
        }
    }
}
