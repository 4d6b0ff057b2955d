package ocimirror.storage;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import ocimirror.storage.blob.BlobPaths;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.FsBlobStore;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.RocksMetadataStore;
import ocimirror.storage.meta.UploadRecord;

/**
 * The blob store and the metadata store of one data directory, opened and closed together.
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
    private final RocksMetadataStore metadata;
    private final FsBlobStore blobs;
    private final Clock clock;

    private Storage(RocksMetadataStore metadata, FsBlobStore blobs, Clock clock) {
        this.metadata = metadata;
        this.blobs = blobs;
        this.clock = clock;
    }

    public static Storage open(Path dataDir, Clock clock) throws IOException {
        requireNonNull(dataDir, "dataDir");
        requireNonNull(clock, "clock");
        RocksMetadataStore metadata = RocksMetadataStore.open(dataDir.resolve("meta"), clock);
        try {
            FsBlobStore blobs = FsBlobStore.open(dataDir);
            metadata.clearUploads(UploadRecord.LOCAL);
            return new Storage(metadata, blobs, clock);
        } catch (IOException | RuntimeException e) {
            metadata.close();
            throw e;
        }
    }

    public BlobStore blobs() {
        return blobs;
    }

    public MetadataStore metadata() {
        return metadata;
    }

    /** The same store as {@link #metadata()}, as eviction, garbage collection and verify see it. */
    public CacheIndex index() {
        return metadata;
    }

    /** The on-disk layout of {@link #blobs()}. */
    public BlobPaths paths() {
        return blobs.paths();
    }

    public Clock clock() {
        return clock;
    }

    /** Aborts open blob writers, then closes the metadata store. */
    @Override
    public void close() {
        try {
            blobs.close();
        } finally {
            metadata.close();
        }
    }
}
