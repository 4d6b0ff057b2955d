package ocimirror.storage.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import ocimirror.storage.blob.BlobContent;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * Every digest a set of pinned images needs, as far as the store holds them: tag → manifest →
 * (for an index, every child manifest) → config and layers. What is not cached yet adds nothing
 * (the pin refresher fetches it); what is cached is never evicted. Storage executor (reads
 * manifest files).
 */
public final class PinnedSet {

    /** A pinned image resolved to its local repository: the cache key and a tag or digest. */
    public record Pin(RepoName repo, Reference reference) {
        public Pin {
            requireNonNull(repo, "repo");
            requireNonNull(reference, "reference");
        }
    }

    private PinnedSet() {
    }

    /** The closure of {@code pins} over what the store holds. */
    public static Set<Digest> resolve(List<Pin> pins, MetadataStore metadata, BlobStore blobs) {
        Set<Digest> keep = new HashSet<>();
        for (Pin pin : pins) {
            Digest root;
            if (pin.reference() instanceof Reference.Tag tag) {
                Optional<TagRecord> rec = metadata.getTag(pin.repo(), tag.name());
                if (rec.isEmpty()) {
                    continue;
                }
                root = rec.get().digest();
            } else {
                root = ((Reference.ByDigest) pin.reference()).digest();
            }
            Deque<Digest> manifests = new ArrayDeque<>();
            manifests.add(root);
            while (!manifests.isEmpty()) {
                Digest m = manifests.poll();
                if (!keep.add(m)) {
                    continue;
                }
                Optional<byte[]> bytes = read(blobs, m);
                if (bytes.isEmpty()) {
                    continue;
                }
                Set<Digest> children = ManifestRefs.children(bytes.get());
                manifests.addAll(children);
                for (Digest d : ManifestRefs.of(bytes.get())) {
                    if (!children.contains(d)) {
                        keep.add(d);
                    }
                }
            }
        }
        return keep;
    }

    /** A manifest's bytes, if the store holds them (manifests are small; a failed read holds nothing). */
    static Optional<byte[]> read(BlobStore blobs, Digest digest) {
        Optional<BlobContent> content;
        try {
            // A store in front of shared storage copies a manifest its tier lacks: its references
            // must be seen (garbage collection marks them). Failing that is an error, never "none".
            content = blobs.fetchContent(digest);
        } catch (IOException e) {
            throw new UncheckedIOException("reading manifest " + digest + ": " + e.getMessage(), e);
        }
        if (content.isEmpty() || content.get().info().size() > 16L << 20) {
            return Optional.empty();
        }
        if (content.get().bytes() != null) {
            return Optional.of(content.get().bytes());
        }
        try {
            return Optional.of(Files.readAllBytes(content.get().info().path()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
