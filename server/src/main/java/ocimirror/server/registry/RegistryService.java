package ocimirror.server.registry;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import ocimirror.config.MirrorConfig;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobContent;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.GrowingBlob;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.Page;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * The registry's operations on hosted content, independent of HTTP: manifests, blobs, tags,
 * the catalog, referrers, and (through {@link #uploads()}) blob uploads. Refusals are thrown as
 * {@link ocimirror.storage.oci.OciException}.
 *
 * <p>Thread-safe and synchronous. Reads ({@link #manifest}, {@link #blob}, {@link #referrers})
 * are point lookups and a file stat, cheap enough for an event loop; everything that writes
 * (puts, deletes) or scans (listings) belongs on the storage executor.
 */
public final class RegistryService {
    private final BlobStore blobs;
    private final MetadataStore metadata;
    private final Clock clock;
    private final Settings settings;
    private final BlobUploads uploads;
    private final ManifestParser parser = new ManifestParser();
    private final RecentChecks checks;

    /**
     * @param maxManifestBytes  largest manifest accepted
     * @param maxUploadBytes    largest blob accepted
     * @param deleteEnabled     whether manifests, tags and blobs may be deleted
     * @param uploadIdleTimeout upload sessions idle this long are discarded
     */
    public record Settings(int maxManifestBytes, long maxUploadBytes, boolean deleteEnabled,
                           Duration uploadIdleTimeout) {
        public static Settings from(MirrorConfig config) {
            return new Settings(config.limits().maxManifestBytes(), config.limits().maxUploadBytes(),
                    config.storage().deleteEnabled(), Duration.ofHours(1));
        }
    }

    /**
     * A manifest as served: its digest, stored media type, the blob holding its bytes and, unless
     * it is over {@link ocimirror.storage.blob.BlobStore#SMALL_BLOB_BYTES}, the bytes themselves
     * (shared, never modified), which are what a GET sends.
     */
    public record ManifestContent(Digest digest, String mediaType, BlobInfo blob, byte[] body) {
        public static ManifestContent of(Digest digest, String mediaType, BlobContent content) {
            return new ManifestContent(digest, mediaType, content.info(), content.bytes());
        }
    }

    /** The outcome of a manifest push; {@code subject} is null if the manifest has none. */
    public record PutManifestResult(Digest digest, Digest subject) {
    }

    /** One page of a repository's tags. */
    public record TagList(RepoName repo, List<String> tags, boolean more) {
    }

    public RegistryService(BlobStore blobs, MetadataStore metadata, Clock clock, Settings settings) {
        this(blobs, metadata, clock, settings, UploadRecord.LOCAL);
    }

    /** As the four-argument constructor, recording upload sessions as {@code uploadOwner}'s (a replica id). */
    public RegistryService(BlobStore blobs, MetadataStore metadata, Clock clock, Settings settings, String uploadOwner) {
        this.blobs = requireNonNull(blobs, "blobs");
        this.metadata = requireNonNull(metadata, "metadata");
        this.clock = requireNonNull(clock, "clock");
        this.settings = requireNonNull(settings, "settings");
        this.uploads = new BlobUploads(blobs, metadata, clock, settings.maxUploadBytes(), settings.uploadIdleTimeout(),
                uploadOwner);
        this.checks = new RecentChecks(clock);
    }

    /** Who reads which blob: bodies hold their blob while they are sent, so eviction and GC skip it. */
    public BlobHolds holds() {
        return blobs.holds();
    }

    /**
     * Whether a client checked (HEAD or GET) blob {@code digest} in {@code repo} within {@code window}:
     * garbage collection keeps such a link, since a pushing client that saw the blob exist skips its
     * upload and sends a manifest referencing it next.
     */
    public boolean checkedWithin(RepoName repo, Digest digest, Duration window) {
        return checks.within(repo, digest, window);
    }

    public Settings settings() {
        return settings;
    }

    public BlobUploads uploads() {
        return uploads;
    }

    /** The manifest {@code ref} names in {@code repo}, else {@code MANIFEST_UNKNOWN}. */
    public ManifestContent manifest(RepoName repo, Reference ref) {
        Digest digest;
        if (ref instanceof Reference.Tag tag) {
            digest = metadata.getTag(repo, tag.name())
                    .orElseThrow(() -> OciError.MANIFEST_UNKNOWN.exception("no tag " + tag.name() + " in " + repo))
                    .digest();
        } else {
            digest = ((Reference.ByDigest) ref).digest();
        }
        ManifestRecord record = metadata.getManifest(repo, digest)
                .orElseThrow(() -> OciError.MANIFEST_UNKNOWN.exception("no manifest " + digest + " in " + repo));
        BlobContent content = content(digest)
                .orElseThrow(() -> OciError.MANIFEST_UNKNOWN.exception("manifest " + digest + " has no content"));
        return ManifestContent.of(digest, record.mediaType(), content);
    }

    /**
     * Validates and stores a manifest, then records it (and its subject) and, for a tag, points
     * the tag at it. Storage executor.
     */
    public PutManifestResult putManifest(RepoName repo, Reference ref, String contentType, byte[] body) {
        // Under the repository's lock: garbage collection cannot unlink a blob between the check
        // below and the manifest record that references it.
        return metadata.inRepoLock(repo, () -> putManifestLocked(repo, ref, contentType, body));
    }

    private PutManifestResult putManifestLocked(RepoName repo, Reference ref, String contentType, byte[] body) {
        if (body.length > settings.maxManifestBytes()) {
            throw OciError.SIZE_TOO_LARGE.exception("manifests are limited to " + settings.maxManifestBytes() + " bytes");
        }
        ManifestParser.Parsed m = parser.parse(body, contentType);
        Digest digest;
        if (ref instanceof Reference.ByDigest byDigest) {
            digest = Digest.of(byDigest.digest().algorithm(), body);
            if (!digest.equals(byDigest.digest())) {
                throw OciError.DIGEST_INVALID.exception("manifest content is " + digest + ", not " + byDigest.digest());
            }
        } else {
            digest = Digest.sha256(body);
        }
        for (Digest blob : m.blobs()) {
            if (!metadata.isBlobLinked(repo, blob) || !stored(blob)) {
                throw OciError.MANIFEST_BLOB_UNKNOWN.exception("blob " + blob + " is not in " + repo);
            }
        }
        for (Digest child : m.manifests()) {
            if (metadata.getManifest(repo, child).isEmpty()) {
                throw OciError.MANIFEST_BLOB_UNKNOWN.exception("manifest " + child + " is not in " + repo);
            }
        }
        // Held while stored and recorded: an eviction of the same bytes cached elsewhere waits or is skipped.
        try (BlobHolds.Hold hold = blobs.holds().hold(digest)) {
            blobs.put(body, digest);
            long now = clock.millis();
            if (metadata.getBlob(digest).isEmpty()) {
                metadata.putBlob(new BlobRecord(digest, body.length, m.mediaType(), now, now));
            }
            metadata.putManifest(repo, new ManifestRecord(digest, m.mediaType(), body.length, m.subject(),
                    m.artifactType(), m.annotations()));
            if (ref instanceof Reference.Tag tag) {
                metadata.putTag(repo, tag.name(), new TagRecord(digest, m.mediaType(), body.length, now, now));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new PutManifestResult(digest, m.subject());
    }

    /** Deletes a manifest by digest (with its tags) or just a tag. Storage executor. */
    public void deleteManifest(RepoName repo, Reference ref) {
        requireDelete();
        boolean deleted = ref instanceof Reference.Tag tag
                ? metadata.deleteTag(repo, tag.name())
                : metadata.deleteManifest(repo, ((Reference.ByDigest) ref).digest());
        if (!deleted) {
            throw OciError.MANIFEST_UNKNOWN.exception("no manifest " + ref + " in " + repo);
        }
    }

    /**
     * Whether the metadata's reads may block on the network (shared storage): then {@link #manifest},
     * {@link #locate} and {@link #referrers} belong on the storage executor.
     */
    public boolean mayBlock() {
        return metadata.mayBlock();
    }

    private Optional<BlobContent> content(Digest digest) {
        return ManifestBytes.read(blobs, metadata.mayBlock(), digest);
    }

    /** Whether the blob is stored: here, or with shared storage in the shared store (its record says so). */
    private boolean stored(Digest digest) {
        return blobs.stat(digest).isPresent() || metadata.mayBlock() && metadata.getBlob(digest).isPresent();
    }

    /** Where a blob's bytes are: the local file, or a copy from the shared store in progress (one is null). */
    public record Located(BlobInfo stored, GrowingBlob copying) {
    }

    /**
     * As {@link #blob}, for shared storage (storage thread): a blob {@code repo} may serve that this
     * replica's tier lacks is streamed from its copy out of the shared store (never a 404).
     */
    public Located locate(RepoName repo, Digest digest) {
        boolean visible = metadata.isBlobLinked(repo, digest) || metadata.getManifest(repo, digest).isPresent();
        if (!visible) {
            throw OciError.BLOB_UNKNOWN.exception("no blob " + digest + " in " + repo);
        }
        Optional<BlobInfo> info = blobs.stat(digest);
        if (info.isEmpty()) {
            Optional<GrowingBlob> copy;
            try {
                copy = blobs.copying(digest);
            } catch (java.io.IOException e) {
                throw OciError.UNAVAILABLE.exception("the shared blob store failed for " + digest + ": " + e.getMessage());
            }
            if (copy.isPresent()) {
                checks.checked(repo, digest);
                return new Located(null, copy.get());
            }
            info = blobs.stat(digest);
        }
        if (info.isPresent()) {
            checks.checked(repo, digest);
            return new Located(info.get(), null);
        }
        throw OciError.BLOB_UNKNOWN.exception("no blob " + digest + " in " + repo);
    }

    /** A blob {@code repo} may serve (a linked blob, or one of its manifests), else {@code BLOB_UNKNOWN}. */
    public BlobInfo blob(RepoName repo, Digest digest) {
        boolean visible = metadata.isBlobLinked(repo, digest) || metadata.getManifest(repo, digest).isPresent();
        Optional<BlobInfo> info = visible ? blobs.stat(digest) : Optional.empty();
        if (info.isPresent()) {
            checks.checked(repo, digest);
        }
        return info.orElseThrow(() -> OciError.BLOB_UNKNOWN.exception("no blob " + digest + " in " + repo));
    }

    /**
     * Removes the blob from {@code repo}. The file stays: other repositories may link it, and
     * reclaiming space is garbage collection's job. Storage executor.
     */
    public void deleteBlob(RepoName repo, Digest digest) {
        requireDelete();
        if (!metadata.unlinkBlob(repo, digest)) {
            throw OciError.BLOB_UNKNOWN.exception("no blob " + digest + " in " + repo);
        }
    }

    /** A page of tags; {@code n} as in {@link OciRoute.Tags}. Storage executor (a scan). */
    public TagList tags(RepoName repo, int n, String last) {
        if (!metadata.repositoryExists(repo)) {
            throw OciError.NAME_UNKNOWN.exception("no repository " + repo);
        }
        if (n == 0) {
            return new TagList(repo, List.of(), false);
        }
        Page<String> page = metadata.listTags(repo, last, n == OciRoute.ALL ? OciRouteParser.MAX_PAGE : n);
        return new TagList(repo, page.items(), page.more());
    }

    /** A page of repository names. Storage executor (a scan). */
    public Page<String> catalog(int n, String last) {
        return catalog(n, last, name -> true);
    }

    /**
     * A page of the repository names {@code listable} accepts: a page stays full while more names
     * follow, so hidden names cost a longer scan, never a short page. Storage executor (a scan).
     */
    public Page<String> catalog(int n, String last, Predicate<String> listable) {
        if (n == 0) {
            return new Page<>(List.of(), false);
        }
        int want = n == OciRoute.ALL ? OciRouteParser.MAX_PAGE : n;
        List<String> names = new ArrayList<>();
        String after = last;
        boolean more;
        do {
            Page<String> page = metadata.listRepositories(after, want - names.size());
            for (String name : page.items()) {
                if (listable.test(name)) {
                    names.add(name);
                }
            }
            more = page.more() && !page.items().isEmpty();
            if (more) {
                after = page.items().get(page.items().size() - 1);
            }
        } while (more && names.size() < want);
        return new Page<>(names, more);
    }

    /**
     * The referrers of {@code subject} as an OCI image index, filtered by {@code artifactType}
     * if not null. An unknown subject has no referrers: an empty index, not an error.
     */
    public byte[] referrers(RepoName repo, Digest subject, String artifactType) {
        ReferrersIndex index = new ReferrersIndex(artifactType);
        metadata.referrers(repo, subject).forEach(index::add);
        return index.bytes();
    }

    private void requireDelete() {
        if (!settings.deleteEnabled()) {
            throw OciError.UNSUPPORTED.exception("deletion is disabled on this registry");
        }
    }
}
