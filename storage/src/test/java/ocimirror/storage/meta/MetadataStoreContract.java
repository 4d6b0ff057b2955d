package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What every {@link MetadataStore} does, run once per backend by a subclass (RocksDB:
 * {@code RocksMetadataStoreTest}; PostgreSQL: {@code PgMetadataStoreTest}). A backend's own
 * behaviour (RocksDB's directory lock, PostgreSQL's migrations) is tested in its subclass.
 *
 * <p>Documented differences between backends are methods a subclass answers, and the tests here
 * assert each answer, so neither backend skips a test:
 * <ul>
 *   <li>{@link #repoLockBodyIsOneTransaction()}: whether the writes a body makes under
 *       {@link MetadataStore#inRepoLock} commit together when it returns (and are discarded if it
 *       throws), or each at once.</li>
 * </ul>
 */
public abstract class MetadataStoreContract {
    protected static final Clock CLOCK = Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC);
    protected static final RepoName REPO = RepoName.of("library/nginx");
    protected static final Digest D1 = digest("one");
    protected static final Digest D2 = digest("two");
    protected static final Digest D3 = digest("three");

    protected MetadataStore store;

    /**
     * Opens the store under test on this test's storage: a second call in the same test (after
     * closing the first) opens the same data again.
     */
    protected abstract MetadataStore open(Clock clock) throws IOException;

    /**
     * True if {@link MetadataStore#inRepoLock}'s body runs in one transaction (PostgreSQL: its
     * writes are discarded if it throws); false if each write is durable as it is made (RocksDB).
     */
    protected abstract boolean repoLockBodyIsOneTransaction();

    @BeforeEach
    void openStore() throws IOException {
        store = open(CLOCK);
    }

    @AfterEach
    void closeStore() {
        if (store != null) { // null if the backend was unavailable and the test skipped
            store.close();
        }
    }

    @Test
    void links() {
        assertFalse(store.isBlobLinked(REPO, D1));
        store.linkBlob(REPO, D1);
        assertTrue(store.isBlobLinked(REPO, D1));
        assertFalse(store.isBlobLinked(REPO, D2));
        assertFalse(store.isBlobLinked(RepoName.of("library/nginx/sub"), D1));
        assertFalse(store.isBlobLinked(RepoName.of("library"), D1));
        assertTrue(store.unlinkBlob(REPO, D1));
        assertFalse(store.unlinkBlob(REPO, D1));
        assertFalse(store.isBlobLinked(REPO, D1));
    }

    @Test
    void relinkingIsNotAnError() {
        store.linkBlob(REPO, D1);
        store.linkBlob(REPO, D1);
        assertTrue(store.isBlobLinked(REPO, D1));
        assertTrue(store.unlinkBlob(REPO, D1));
        assertFalse(store.isBlobLinked(REPO, D1));
    }

    @Test
    void linkedAnywhereSeesLinksOfAnyRepositoryButNotManifests() {
        assertFalse(store.isBlobLinkedAnywhere(D1));
        store.putManifest(REPO, new ManifestRecord(D1, MediaTypes.OCI_MANIFEST, 10, null, null, null));
        store.linkBlob(RepoName.of("a"), D2);
        assertFalse(store.isBlobLinkedAnywhere(D1), "held as a manifest only");
        store.linkBlob(RepoName.of("z/last"), D1);
        assertTrue(store.isBlobLinkedAnywhere(D1));
        assertFalse(store.isBlobLinkedAnywhere(D3));
        store.unlinkBlob(RepoName.of("z/last"), D1);
        assertFalse(store.isBlobLinkedAnywhere(D1));
        assertTrue(store.isBlobLinkedAnywhere(D2));
    }

    @Test
    void manifestRoundTrip() {
        ManifestRecord full = new ManifestRecord(D1, MediaTypes.OCI_MANIFEST, 1234, D2, "application/x-sbom",
                Map.of("org.opencontainers.image.created", "2025-01-01T00:00:00Z", "k", "", "quote\"s", "ü\n\t"));
        ManifestRecord bare = new ManifestRecord(D3, null, 0, null, null, null);
        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        store.putManifest(REPO, full);
        store.putManifest(REPO, bare);
        assertEquals(Optional.of(full), store.getManifest(REPO, D1));
        assertEquals(Optional.of(bare), store.getManifest(REPO, D3));
        assertEquals(Optional.empty(), store.getManifest(RepoName.of("other"), D1));
        assertTrue(store.repositoryExists(REPO));
    }

    @Test
    void referrersAreScopedAndSortedByDigest() {
        Digest subject = D3;
        List<ManifestRecord> records = List.of(referrer(D1, subject), referrer(D2, subject));
        records.forEach(r -> store.putManifest(REPO, r));
        store.putManifest(RepoName.of("other"), referrer(digest("elsewhere"), subject));
        store.putManifest(REPO, referrer(digest("other subject"), D1));

        List<ManifestRecord> expected = records.stream()
                .sorted((a, b) -> a.digest().toString().compareTo(b.digest().toString())).toList();
        assertEquals(expected, store.referrers(REPO, subject));
        assertEquals(List.of(), store.referrers(REPO, D2));
        assertEquals(1, store.referrers(RepoName.of("other"), subject).size());
    }

    @Test
    void deleteManifestRemovesItsTagsAndReferrerEntry() {
        ManifestRecord m = referrer(D1, D3);
        store.putManifest(REPO, m);
        store.putManifest(REPO, new ManifestRecord(D2, MediaTypes.OCI_MANIFEST, 10, null, null, null));
        store.putTag(REPO, "latest", tag(D1));
        store.putTag(REPO, "v1", tag(D1));
        store.putTag(REPO, "v2", tag(D2));
        RepoName other = RepoName.of("library/nginx/sub"); // shares the prefix "library/nginx"
        store.putManifest(other, m);
        store.putTag(other, "latest", tag(D1));

        assertTrue(store.deleteManifest(REPO, D1));

        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
        assertEquals(Optional.empty(), store.getTag(REPO, "v1"));
        assertEquals(Optional.of(tag(D2)), store.getTag(REPO, "v2"));
        assertEquals(List.of(), store.referrers(REPO, D3));
        assertEquals(new Page<>(List.of("v2"), false), store.listTags(REPO, null, 100));
        // the other repository is untouched
        assertEquals(Optional.of(m), store.getManifest(other, D1));
        assertEquals(Optional.of(tag(D1)), store.getTag(other, "latest"));
        assertEquals(List.of(m), store.referrers(other, D3));

        assertFalse(store.deleteManifest(REPO, D1));
    }

    @Test
    void tags() {
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
        store.putTag(REPO, "latest", tag(D1));
        assertEquals(Optional.of(tag(D1)), store.getTag(REPO, "latest"));
        store.putTag(REPO, "latest", tag(D2));
        assertEquals(Optional.of(tag(D2)), store.getTag(REPO, "latest"));
        TagRecord noType = new TagRecord(D3, null, 5, 1, 2);
        store.putTag(REPO, "x", noType);
        assertEquals(Optional.of(noType), store.getTag(REPO, "x"));
        assertTrue(store.deleteTag(REPO, "latest"));
        assertFalse(store.deleteTag(REPO, "latest"));
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));

        OciException e = assertThrows(OciException.class, () -> store.putTag(REPO, "bad/tag", tag(D1)));
        assertEquals(OciError.TAG_INVALID, e.error());
        assertThrows(OciException.class, () -> store.putTag(REPO, "a\0b", tag(D1)));
        assertEquals(Optional.empty(), store.getTag(REPO, "../x"));
        assertFalse(store.deleteTag(REPO, ""));
    }

    @Test
    void listTagsIsLexicalAndPaginated() {
        List<String> names = List.of("1.10", "1.9", "B", "a", "latest", "v1", "v1-rc", "v1.0");
        for (String t : List.of("v1", "a", "latest", "1.9", "B", "v1.0", "1.10", "v1-rc")) {
            store.putTag(REPO, t, tag(D1));
        }
        // neighbours whose keys share the byte prefix "library/nginx" must not leak in
        store.putTag(RepoName.of("library/nginx/sub"), "zzz", tag(D1));
        store.putTag(RepoName.of("library/nginx-x"), "aaa", tag(D1));
        store.putTag(RepoName.of("library/ngin"), "0", tag(D1));

        assertEquals(new Page<>(names, false), store.listTags(REPO, null, 100));
        assertEquals(new Page<>(names, false), store.listTags(REPO, null, names.size()));
        assertEquals(new Page<>(names.subList(0, 3), true), store.listTags(REPO, null, 3));
        assertEquals(new Page<>(names.subList(3, 6), true), store.listTags(REPO, "B", 3));
        assertEquals(new Page<>(names.subList(6, 8), false), store.listTags(REPO, "v1", 3));
        assertEquals(new Page<>(names.subList(6, 8), false), store.listTags(REPO, "v1", 2));
        // last need not exist: listing continues after where it would sort
        assertEquals(new Page<>(List.of("latest", "v1"), true), store.listTags(REPO, "b", 2));
        assertEquals(new Page<>(List.of(), false), store.listTags(REPO, "v1.0", 5));
        assertEquals(new Page<>(List.of(), false), store.listTags(REPO, "zzzz", 5));
        // n <= 0: no items; more tells whether any follow
        assertEquals(new Page<>(List.of(), true), store.listTags(REPO, null, 0));
        assertEquals(new Page<>(List.of(), true), store.listTags(REPO, "v1", -1));
        assertEquals(new Page<>(List.of(), false), store.listTags(REPO, "v1.0", 0));
        assertEquals(new Page<>(List.of(), false), store.listTags(RepoName.of("empty"), null, 0));
        assertEquals(new Page<>(List.of(), false), store.listTags(RepoName.of("empty"), null, 10));
    }

    @Test
    void repositoriesComeFromLinksManifestsAndTags() {
        assertEquals(new Page<>(List.of(), false), store.listRepositories(null, 10));
        store.linkBlob(RepoName.of("b/linked"), D1);
        store.putManifest(RepoName.of("a/manifest"), new ManifestRecord(D1, null, 1, null, null, null));
        store.putTag(RepoName.of("c"), "t", tag(D1));
        store.putTag(RepoName.of("c"), "u", tag(D1));
        store.linkBlob(RepoName.of("a"), D2);
        store.linkBlob(RepoName.of("a-b"), D2);
        store.putBlob(new BlobRecord(D3, 1, null, 0, 0));
        store.putUpload(new UploadRecord("u1", RepoName.of("uploading"), 0));

        List<String> all = List.of("a", "a-b", "a/manifest", "b/linked", "c");
        assertEquals(new Page<>(all, false), store.listRepositories(null, 10));
        assertEquals(new Page<>(all.subList(0, 2), true), store.listRepositories(null, 2));
        assertEquals(new Page<>(all.subList(2, 4), true), store.listRepositories("a-b", 2));
        assertEquals(new Page<>(all.subList(4, 5), false), store.listRepositories("b/linked", 2));
        assertEquals(new Page<>(List.of(), true), store.listRepositories("a", 0));
        assertTrue(store.repositoryExists(RepoName.of("a/manifest")));
        assertTrue(store.repositoryExists(RepoName.of("c")));
        assertFalse(store.repositoryExists(RepoName.of("uploading")));
        assertFalse(store.repositoryExists(RepoName.of("b")));
        // entries stay when the content goes (documented)
        store.unlinkBlob(RepoName.of("a"), D2);
        assertTrue(store.repositoryExists(RepoName.of("a")));
    }

    @Test
    void blobRecords() {
        BlobRecord r = new BlobRecord(D1, 42, "application/octet-stream", 1000, 2000);
        assertEquals(Optional.empty(), store.getBlob(D1));
        store.putBlob(r);
        assertEquals(Optional.of(r), store.getBlob(D1));
        BlobRecord touched = new BlobRecord(D1, 42, null, 1000, 3000);
        store.putBlob(touched);
        assertEquals(Optional.of(touched), store.getBlob(D1));
        store.deleteBlob(D1);
        assertEquals(Optional.empty(), store.getBlob(D1));
        store.deleteBlob(D1); // absent: no error
        Digest sha512 = Digest.of(Digest.Algorithm.SHA512, "x".getBytes(UTF_8));
        store.putBlob(new BlobRecord(sha512, 1, null, 0, 0));
        assertEquals(sha512, store.getBlob(sha512).orElseThrow().digest());
    }

    @Test
    void touchBlobOnlyMovesLastAccessForward() {
        store.putBlob(new BlobRecord(D1, 7, "t", 100, 200));
        store.touchBlob(D1, 150); // older than recorded: ignored
        assertEquals(new BlobRecord(D1, 7, "t", 100, 200), store.getBlob(D1).orElseThrow());
        store.touchBlob(D1, 300);
        assertEquals(new BlobRecord(D1, 7, "t", 100, 300), store.getBlob(D1).orElseThrow());
        store.touchBlob(D2, 300); // no record: nothing to move, nothing created
        assertEquals(Optional.empty(), store.getBlob(D2));
    }

    @Test
    void uploadsAndClearUploads() {
        UploadRecord u1 = new UploadRecord("0f8fad5b-d9cb-469f-a165-70867728950e", REPO, 7);
        UploadRecord u2 = new UploadRecord("7c9e6679-7425-40de-944b-e07fc1f90ae7", RepoName.of("x"), 8);
        store.putUpload(u1);
        store.putUpload(u2);
        assertEquals(Optional.of(u1), store.getUpload(u1.id()));
        store.deleteUpload(u1.id());
        assertEquals(Optional.empty(), store.getUpload(u1.id()));
        store.putUpload(u1);
        store.putTag(REPO, "keep", tag(D1));
        store.clearUploads();
        assertEquals(Optional.empty(), store.getUpload(u1.id()));
        assertEquals(Optional.empty(), store.getUpload(u2.id()));
        assertEquals(Optional.of(tag(D1)), store.getTag(REPO, "keep"));
        store.clearUploads(); // nothing left: still fine
    }

    /** A replica's start-up forgets its own sessions, not those of the others sharing the store. */
    @Test
    void clearUploadsOfAnOwnerKeepsTheOthers() {
        UploadRecord local = new UploadRecord("0f8fad5b-d9cb-469f-a165-70867728950e", REPO, 7);
        UploadRecord mine = new UploadRecord("7c9e6679-7425-40de-944b-e07fc1f90ae7", REPO, 8, "replica-a");
        UploadRecord theirs = new UploadRecord("a3bb189e-8bf9-3888-9912-ace4e6543002", REPO, 9, "replica-b");
        List.of(local, mine, theirs).forEach(store::putUpload);
        assertEquals(Optional.of(theirs), store.getUpload(theirs.id()), "the owner is kept");
        assertEquals(UploadRecord.LOCAL, store.getUpload(local.id()).orElseThrow().owner());

        store.clearUploads("replica-a");
        assertEquals(Optional.empty(), store.getUpload(mine.id()));
        assertEquals(Optional.of(theirs), store.getUpload(theirs.id()));
        assertEquals(Optional.of(local), store.getUpload(local.id()));

        store.clearUploads(UploadRecord.LOCAL); // what a single node's start-up calls
        assertEquals(Optional.empty(), store.getUpload(local.id()));
        assertEquals(Optional.of(theirs), store.getUpload(theirs.id()));
    }

    /** A nested call that waited for the lock its own thread holds would never end: fail instead. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void repoLockRunsTheBodyOnceAndIsReentrant() {
        String result = store.inRepoLock(REPO, () -> store.inRepoLock(REPO, () -> {
            store.linkBlob(REPO, D1);
            return store.isBlobLinked(REPO, D1) ? "linked" : "not linked"; // its own writes are seen
        }));
        assertEquals("linked", result);
        assertTrue(store.isBlobLinked(REPO, D1));
        // another repository's lock may be taken inside
        assertEquals(1, store.inRepoLock(REPO, () -> store.inRepoLock(RepoName.of("other"), () -> 1)));
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aThrowingBodyReleasesTheRepoLock() {
        IllegalStateException thrown = new IllegalStateException("refused");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.inRepoLock(REPO, () -> {
            store.linkBlob(REPO, D1);
            throw thrown;
        }));
        assertSame(thrown, e);
        // the documented difference: one transaction discards the link, RocksDB kept it
        assertEquals(!repoLockBodyIsOneTransaction(), store.isBlobLinked(REPO, D1));
        assertTrue(store.inRepoLock(REPO, () -> {
            store.linkBlob(REPO, D2);
            return true;
        }));
        assertTrue(store.isBlobLinked(REPO, D2));
    }

    // --- a write is seen by the next read (whatever caches a backend keeps) ---

    @Test
    void aRememberedAbsenceEndsWithTheWrite() {
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        store.putManifest(REPO, manifest(D1));
        store.putTag(REPO, "latest", tag(D1, 1));
        assertEquals(Optional.of(manifest(D1)), store.getManifest(REPO, D1));
        assertEquals(D1, store.getTag(REPO, "latest").orElseThrow().digest());
    }

    @Test
    void movedAndDeletedTagsAreSeenAtOnce() {
        store.putTag(REPO, "latest", tag(D1, 1));
        assertEquals(D1, store.getTag(REPO, "latest").orElseThrow().digest());
        store.putTag(REPO, "latest", tag(D2, 2));
        assertEquals(D2, store.getTag(REPO, "latest").orElseThrow().digest());
        assertTrue(store.deleteTag(REPO, "latest"));
        assertEquals(Optional.empty(), store.getTag(REPO, "latest"));
    }

    @Test
    void deletingAManifestForgetsItAndTheTagsOnIt() {
        store.putManifest(REPO, manifest(D1));
        store.putTag(REPO, "a", tag(D1, 1));
        store.putTag(REPO, "b", tag(D1, 1));
        store.putTag(REPO, "c", tag(D2, 1));
        List.of("a", "b", "c").forEach(t -> assertTrue(store.getTag(REPO, t).isPresent()));
        assertTrue(store.getManifest(REPO, D1).isPresent());

        assertTrue(store.deleteManifest(REPO, D1));

        assertEquals(Optional.empty(), store.getManifest(REPO, D1));
        assertEquals(Optional.empty(), store.getTag(REPO, "a"));
        assertEquals(Optional.empty(), store.getTag(REPO, "b"));
        assertEquals(D2, store.getTag(REPO, "c").orElseThrow().digest());
    }

    @Test
    void aLinkAndItsRemovalAreSeenAtOnce() {
        assertFalse(store.isBlobLinked(REPO, D1));
        store.linkBlob(REPO, D1);
        assertTrue(store.isBlobLinked(REPO, D1));
        assertFalse(store.isBlobLinked(RepoName.of("library/redis"), D1));
        assertTrue(store.unlinkBlob(REPO, D1));
        assertFalse(store.isBlobLinked(REPO, D1));
    }

    /** Readers racing a writer: once the writer stops, every reader sees its last write. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void readersRacingWritesEndOnTheLastWrite() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        List<CompletableFuture<Void>> readers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            readers.add(CompletableFuture.runAsync(() -> {
                while (!stop.get()) {
                    store.getTag(REPO, "moving");
                }
            }));
        }
        int last = 2_000;
        try {
            for (int i = 1; i <= last; i++) {
                store.putTag(REPO, "moving", tag(i % 2 == 0 ? D1 : D2, i));
            }
        } finally {
            stop.set(true);
        }
        CompletableFuture.allOf(readers.toArray(CompletableFuture[]::new)).get();
        assertEquals(last, store.getTag(REPO, "moving").orElseThrow().checkedAt());
    }

    @Test
    void reopenKeepsData() throws IOException {
        ManifestRecord m = referrer(D1, D2);
        store.putManifest(REPO, m);
        store.putTag(REPO, "latest", tag(D1));
        store.linkBlob(REPO, D3);
        store.putBlob(new BlobRecord(D3, 3, null, 1, 2));
        store.putUpload(new UploadRecord("u", REPO, 1));
        store.close();

        store = open(CLOCK);
        assertEquals(Optional.of(m), store.getManifest(REPO, D1));
        assertEquals(List.of(m), store.referrers(REPO, D2));
        assertEquals(Optional.of(tag(D1)), store.getTag(REPO, "latest"));
        assertTrue(store.isBlobLinked(REPO, D3));
        assertEquals(3, store.getBlob(D3).orElseThrow().size());
        assertTrue(store.getUpload("u").isPresent());
        assertEquals(new Page<>(List.of(REPO.value()), false), store.listRepositories(null, 10));
    }

    @Test
    void closeIsIdempotentAndLaterCallsFailCleanly() {
        store.close();
        store.close();
        assertThrows(IllegalStateException.class, () -> store.getTag(REPO, "latest"));
        assertThrows(IllegalStateException.class, () -> store.listRepositories(null, 1));
        assertThrows(IllegalStateException.class, () -> store.linkBlob(REPO, D1));
    }

    protected static TagRecord tag(Digest d) {
        return new TagRecord(d, MediaTypes.OCI_MANIFEST, 100, 1_000, 2_000);
    }

    private static TagRecord tag(Digest d, long checkedAt) {
        return new TagRecord(d, MediaTypes.OCI_MANIFEST, 10, checkedAt, checkedAt);
    }

    private static ManifestRecord manifest(Digest d) {
        return new ManifestRecord(d, MediaTypes.OCI_MANIFEST, 10, null, null, null);
    }

    protected static ManifestRecord referrer(Digest digest, Digest subject) {
        return new ManifestRecord(digest, MediaTypes.OCI_MANIFEST, 321, subject, "application/vnd.example+type",
                Map.of("org.example.key", digest.hex().substring(0, 8)));
    }

    protected static Digest digest(String content) {
        return Digest.sha256(content.getBytes(UTF_8));
    }
}
