package ocimirror.server.pullthrough;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * How a proxied repository's cache is written: manifest bytes as a blob, its blob record and
 * manifest record, tag records, blob records and links. One place for the pull-through and for
 * {@code ocimirror import --upstream}, which seeds the cache as if the content had been fetched
 * just now. Blocking writes: storage executor (or a command-line tool holding the store).
 */
public final class CacheRecords {
    private final BlobStore blobs;
    private final MetadataStore metadata;
    private final Clock clock;

    public CacheRecords(BlobStore blobs, MetadataStore metadata, Clock clock) {
        this.blobs = requireNonNull(blobs, "blobs");
        this.metadata = requireNonNull(metadata, "metadata");
        this.clock = requireNonNull(clock, "clock");
    }

    /**
     * Stores {@code body} (verified against {@code digest}) as a manifest of {@code repo} and,
     * if {@code tag} is not null, points the tag at it as fetched and checked now: the tag is
     * fresh for the upstream's tag TTL, and served stale while the upstream is out after that.
     *
     * @param contentType the media type (a descriptor's), or null to read it from the body
     */
    public ManifestContent putManifest(RepoName repo, Digest digest, byte[] body, String contentType, String tag) {
        ManifestFacts facts = ManifestFacts.of(body, contentType);
        // Held while stored and recorded: an eviction of these bytes finishes first or waits.
        try (BlobHolds.Hold hold = blobs.holds().hold(digest)) {
            ManifestContent content = storeManifest(repo, digest, body, facts);
            if (tag != null) {
                long now = clock.millis();
                metadata.putTag(repo, tag, new TagRecord(digest, facts.mediaType(), body.length, now, now));
            }
            return content;
        }
    }

    /** The manifest's blob, blob record and manifest record; no tag. */
    ManifestContent storeManifest(RepoName repo, Digest digest, byte[] body, ManifestFacts facts) {
        BlobInfo info;
        try {
            info = blobs.put(body, digest);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long now = clock.millis();
        if (metadata.getBlob(digest).isEmpty()) {
            metadata.putBlob(new BlobRecord(digest, body.length, facts.mediaType(), now, now));
        }
        metadata.putManifest(repo, new ManifestRecord(digest, facts.mediaType(), body.length, facts.subject(),
                facts.artifactType(), facts.annotations()));
        return new ManifestContent(digest, facts.mediaType(), info, body);
    }

    /** Records a committed blob unless it is recorded already. */
    public void recordBlob(BlobInfo info, String mediaType) {
        if (metadata.getBlob(info.digest()).isEmpty()) {
            long now = clock.millis();
            metadata.putBlob(new BlobRecord(info.digest(), info.size(), mediaType, now, now));
        }
    }

    /** Links {@code digest} into {@code repo} (which repository may serve it) unless it is. */
    public void link(RepoName repo, Digest digest) {
        if (!metadata.isBlobLinked(repo, digest)) {
            metadata.linkBlob(repo, digest);
        }
    }
}
