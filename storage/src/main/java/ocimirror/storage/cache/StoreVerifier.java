package ocimirror.storage.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import ocimirror.storage.Storage;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.CacheIndex;
import ocimirror.storage.meta.LinkRecord;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.RepoName;

/**
 * Checks a data directory's files against its metadata, offline (the caller holds the storage,
 * and with it RocksDB's lock): every blob file is re-hashed against its name; every blob record
 * needs its file; every file needs a record; every manifest record needs its blob, every tag its
 * manifest, every link its blob; the derived index (total, eviction order) must agree with the
 * records; a hosted image must have all the blobs its manifest references. With {@code repair},
 * whatever is inconsistent is removed (a corrupt or orphaned file, a record without a file, a
 * manifest, tag or link pointing at nothing) and the index rebuilt; an incomplete hosted image is
 * only reported (deleting it would lose what is left; re-push it).
 */
public final class StoreVerifier {

    /** What kind of inconsistency. */
    public enum Kind {
        CORRUPT_BLOB("file content does not match its digest"),
        SIZE_MISMATCH("file size differs from the blob record"),
        MISSING_FILE("blob record without a file"),
        ORPHAN_FILE("file without a blob record"),
        STRAY_FILE("file in blobs/ whose name is not a digest"),
        MANIFEST_WITHOUT_BLOB("manifest record whose blob is missing"),
        TAG_WITHOUT_MANIFEST("tag pointing at a manifest the repository does not have"),
        LINK_WITHOUT_BLOB("link to a missing blob"),
        INDEX_MISMATCH("byte total or eviction order disagrees with the blob records"),
        INCOMPLETE_IMAGE("hosted manifest references a missing blob (not repaired: re-push the image)");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    /** One inconsistency: what, where, and whether {@code --repair} fixed it. */
    public record Problem(Kind kind, String subject, boolean repaired) {
        @Override
        public String toString() {
            return kind + " " + subject + ": " + kind.description() + (repaired ? " (repaired)" : "");
        }
    }

    /** The outcome: how much was checked and what was wrong. */
    public record Report(long blobsChecked, long bytesChecked, List<Problem> problems) {
        public boolean clean() {
            return problems.isEmpty();
        }
    }

    private final Storage storage;
    private final Predicate<RepoName> isHosted;

    /** @param isHosted which repositories hold pushed content (checked for incomplete images) */
    public StoreVerifier(Storage storage, Predicate<RepoName> isHosted) {
        this.storage = requireNonNull(storage, "storage");
        this.isHosted = requireNonNull(isHosted, "isHosted");
    }

    /** Checks everything; with {@code repair}, removes what is inconsistent. {@code progress} gets a line per phase. */
    public Report verify(boolean repair, Consumer<String> progress) throws IOException {
        MetadataStore meta = storage.metadata();
        CacheIndex index = storage.index();
        List<Problem> problems = new ArrayList<>();
        long[] checked = {0, 0};

        // 1. Every file, re-hashed: corrupt, orphaned, stray.
        progress.accept("re-hashing blob files under " + storage.paths().blobsDir());
        for (Digest.Algorithm algorithm : Digest.Algorithm.values()) {
            Path algoDir = storage.paths().algorithmDir(algorithm);
            if (!Files.isDirectory(algoDir)) {
                continue;
            }
            try (DirectoryStream<Path> fans = Files.newDirectoryStream(algoDir)) {
                for (Path fan : fans) {
                    try (DirectoryStream<Path> files = Files.newDirectoryStream(fan)) {
                        for (Path file : files) {
                            checkFile(algorithm, file, repair, problems, checked);
                        }
                    }
                }
            }
        }

        // 2. Every record needs its file; the total and eviction order must agree with the records.
        progress.accept("checking blob records");
        long[] sum = {0, 0};
        List<Digest> missing = new ArrayList<>();
        index.forEachBlob(r -> {
            sum[0] += r.size();
            sum[1]++;
            OptionalLong size = stored(r.digest());
            if (size.isEmpty()) {
                missing.add(r.digest());
            } else if (size.getAsLong() != r.size()) {
                problems.add(new Problem(Kind.SIZE_MISMATCH, r.digest() + " (record " + r.size() + ", file "
                        + size.getAsLong() + ")", false));
            }
        });
        for (Digest d : missing) {
            if (repair) {
                index.removeBlob(d, r -> true);
            }
            problems.add(new Problem(Kind.MISSING_FILE, d.toString(), repair));
        }
        long lruEntries = countLru(index);
        if (sum[0] != index.blobBytes() || sum[1] != lruEntries) {
            problems.add(new Problem(Kind.INDEX_MISMATCH, "total " + index.blobBytes() + " vs " + sum[0] + " bytes in "
                    + sum[1] + " records, " + lruEntries + " eviction entries", repair));
        }

        // 3. Manifests, tags and links need what they point at.
        progress.accept("checking manifests, tags and links");
        for (RepoName repo : index.repositories()) {
            Set<Digest> manifests = new HashSet<>();
            for (ManifestRecord m : index.manifests(repo)) {
                if (stored(m.digest()).isEmpty() || meta.getBlob(m.digest()).isEmpty()) {
                    if (repair) {
                        meta.deleteManifest(repo, m.digest());
                    }
                    problems.add(new Problem(Kind.MANIFEST_WITHOUT_BLOB, repo + "@" + m.digest(), repair));
                    continue;
                }
                manifests.add(m.digest());
                if (isHosted.test(repo)) {
                    PinnedSet.read(storage.blobs(), m.digest()).ifPresent(bytes -> {
                        for (Digest ref : ManifestRefs.of(bytes)) {
                            if (stored(ref).isEmpty()) {
                                problems.add(new Problem(Kind.INCOMPLETE_IMAGE, repo + "@" + m.digest() + " -> " + ref,
                                        false));
                            }
                        }
                    });
                }
            }
            for (CacheIndex.TagEntry t : index.tags(repo)) {
                if (!manifests.contains(t.record().digest())) {
                    if (repair) {
                        meta.deleteTag(repo, t.tag());
                    }
                    problems.add(new Problem(Kind.TAG_WITHOUT_MANIFEST, repo + ":" + t.tag() + " -> "
                            + t.record().digest(), repair));
                }
            }
            for (LinkRecord l : index.links(repo)) {
                if (stored(l.digest()).isEmpty()) {
                    if (repair) {
                        meta.unlinkBlob(repo, l.digest());
                    }
                    problems.add(new Problem(Kind.LINK_WITHOUT_BLOB, repo + "@" + l.digest(), repair));
                }
            }
        }
        if (repair) {
            index.rebuildIndex();
        }
        return new Report(checked[0], checked[1], List.copyOf(problems));
    }

    /**
     * The blob's size where the store keeps it: the file on a single node; the local tier, else the
     * shared remote (one HEAD) for a replica, whose tier holds only the hot blobs.
     */
    private OptionalLong stored(Digest digest) {
        try {
            return storage.blobs().size(digest);
        } catch (IOException e) {
            throw new UncheckedIOException("looking up " + digest + ": " + e.getMessage(), e);
        }
    }

    private void checkFile(Digest.Algorithm algorithm, Path file, boolean repair, List<Problem> problems, long[] checked)
            throws IOException {
        Digest named;
        try {
            named = Digest.parse(algorithm.prefix() + ":" + file.getFileName());
        } catch (OciException e) {
            named = null;
        }
        if (named == null || !storage.paths().blob(named).equals(file.toAbsolutePath().normalize())
                || !Files.isRegularFile(file)) {
            problems.add(new Problem(Kind.STRAY_FILE, file.toString(), false));
            return;
        }
        Digest actual = hash(algorithm, file);
        checked[0]++;
        checked[1] += Files.size(file);
        Optional<BlobRecord> record = storage.metadata().getBlob(named);
        if (!actual.equals(named)) {
            if (repair) {
                storage.index().removeBlob(named, r -> true);
                Files.deleteIfExists(file);
            }
            problems.add(new Problem(Kind.CORRUPT_BLOB, named + " (content is " + actual + ")", repair));
        } else if (record.isEmpty()) {
            if (repair) {
                Files.deleteIfExists(file);
            }
            problems.add(new Problem(Kind.ORPHAN_FILE, named.toString(), repair));
        }
    }

    private static Digest hash(Digest.Algorithm algorithm, Path file) throws IOException {
        MessageDigest md = algorithm.newMessageDigest();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return Digest.fromHash(algorithm, md.digest());
    }

    private static long countLru(CacheIndex index) {
        long n = 0;
        var after = (ocimirror.storage.meta.LruEntry) null;
        while (true) {
            var page = index.lru(after, 1024);
            if (page.isEmpty()) {
                return n;
            }
            n += page.size();
            after = page.get(page.size() - 1);
        }
    }
}
