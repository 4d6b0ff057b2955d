package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link CacheIndex} does (eviction, garbage collection, pins and {@code verify} rely on
 * it), run once per backend by a subclass (RocksDB: {@code RocksCacheTest}; PostgreSQL:
 * {@code PgCacheIndexTest}), written from RocksDB's behaviour. The store under test is both the
 * {@link MetadataStore} and its {@link CacheIndex}, as {@code Storage.index()} is.
 */
public abstract class CacheIndexContract {
    protected static final Clock CLOCK = Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC);
    protected static final RepoName A = RepoName.of("local/a");
    protected static final RepoName B = RepoName.of("docker.io/library/b");
    protected static final Digest D1 = digest("one");
    protected static final Digest D2 = digest("two");
    protected static final Digest D3 = digest("three");

    protected MetadataStore store;
    protected CacheIndex index;

    /** Opens the store under test on this test's storage; a second call opens the same data again. */
    protected abstract MetadataStore open(Clock clock) throws IOException;

    @BeforeEach
    void openStore() throws IOException {
        store = open(CLOCK);
        index = (CacheIndex) store;
    }

    @AfterEach
    void closeStore() {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void putReplacesWithoutCountingTwiceAndListenersHearTheTotal() {
        AtomicLong heard = new AtomicLong(-1);
        index.addBlobBytesListener(heard::set);
        store.putBlob(new BlobRecord(D1, 100, null, 1, 1));
        store.putBlob(new BlobRecord(D1, 100, null, 1, 5));
        store.putBlob(new BlobRecord(D2, 50, null, 2, 2));
        assertEquals(150, index.blobBytes());
        assertEquals(150, heard.get());
        assertEquals(List.of(new LruEntry(2, D2), new LruEntry(5, D1)), index.lru(null, 10));
        assertEquals(List.of(new LruEntry(5, D1)), index.lru(new LruEntry(2, D2), 10));
        index.touchBlob(D2, 1); // older than recorded: ignored
        assertEquals(2, store.getBlob(D2).orElseThrow().lastAccess());
        store.putBlob(new BlobRecord(D2, 70, null, 2, 2)); // a new size replaces the old one in the total
        assertEquals(170, heard.get());
        store.deleteBlob(D1);
        store.deleteBlob(D1);
        assertEquals(70, index.blobBytes());
        assertEquals(70, heard.get());
    }

    @Test
    void theEvictionOrderIsPagedByLastAccessThenDigest() {
        List<Digest> ds = List.of(D1, D2, D3);
        for (Digest d : ds) {
            store.putBlob(new BlobRecord(d, 1, null, 1, 10));
        }
        store.putBlob(new BlobRecord(digest("old"), 1, null, 1, 5));
        index.touchBlob(digest("old"), 20);
        List<LruEntry> all = index.lru(null, 10);
        List<Digest> sameTime = ds.stream().sorted((x, y) -> x.toString().compareTo(y.toString())).toList();
        List<LruEntry> expected = new ArrayList<>();
        sameTime.forEach(d -> expected.add(new LruEntry(10, d)));
        expected.add(new LruEntry(20, digest("old")));
        assertEquals(expected, all);
        assertEquals(expected.subList(1, 3), index.lru(expected.get(0), 2));
        assertEquals(List.of(), index.lru(expected.get(3), 2));
        assertEquals(List.of(), index.lru(null, 0));
    }

    @Test
    void refsFollowLinksAndManifestsLinksFirst() {
        store.linkBlob(B, D1);
        store.linkBlob(A, D1);
        store.putManifest(B, new ManifestRecord(D1, null, 1, null, null, null));
        assertEquals(List.of(new BlobRef(B, false), new BlobRef(A, false), new BlobRef(B, true)), index.refs(D1));
        assertTrue(store.unlinkBlob(A, D1));
        assertTrue(store.deleteManifest(B, D1));
        assertEquals(List.of(new BlobRef(B, false)), index.refs(D1));
        assertTrue(index.refs(D2).isEmpty());
    }

    @Test
    void linksCarryTheirTimeAndConditionalUnlinkRespectsIt() {
        store.linkBlob(A, D2);
        store.linkBlob(A, D1);
        long t = CLOCK.millis();
        List<LinkRecord> sorted = new ArrayList<>(List.of(new LinkRecord(D1, t), new LinkRecord(D2, t)));
        sorted.sort((x, y) -> x.digest().toString().compareTo(y.digest().toString()));
        assertEquals(sorted, index.links(A));
        assertFalse(index.unlinkIfOlder(A, D1, t), "made at the cutoff: not older");
        assertTrue(index.unlinkIfOlder(A, D1, t + 1));
        assertFalse(index.unlinkIfOlder(A, D1, t + 1), "gone already");
        assertFalse(store.isBlobLinked(A, D1));
        assertTrue(index.refs(D1).isEmpty());
        assertEquals(List.of(new LinkRecord(D2, t)), index.links(A));
    }

    @Test
    void removeBlobIsRefusedByAProtectedRepositoryAndOtherwiseTakesEverything() {
        AtomicLong heard = new AtomicLong(-1);
        index.addBlobBytesListener(heard::set);
        store.putBlob(new BlobRecord(D1, 10, null, 1, 1));
        store.putBlob(new BlobRecord(D3, 5, null, 1, 1));
        store.linkBlob(A, D1);
        store.putManifest(B, new ManifestRecord(D1, null, 10, D2, null, null));
        store.putTag(B, "latest", new TagRecord(D1, null, 10, 1, 1));
        store.putTag(B, "other", new TagRecord(D3, null, 10, 1, 1));
        store.putTag(A, "same-digest-no-manifest", new TagRecord(D1, null, 10, 1, 1));
        assertTrue(index.removeBlob(D1, r -> r.equals(B)).isEmpty());
        assertEquals(15, index.blobBytes());
        assertTrue(store.getTag(B, "latest").isPresent());
        assertTrue(store.isBlobLinked(A, D1));

        assertEquals(new BlobRecord(D1, 10, null, 1, 1), index.removeBlob(D1, r -> true).orElseThrow());
        assertEquals(5, index.blobBytes());
        assertEquals(5, heard.get());
        assertFalse(store.isBlobLinked(A, D1));
        assertTrue(store.getManifest(B, D1).isEmpty());
        assertTrue(store.getTag(B, "latest").isEmpty());
        assertTrue(store.getTag(B, "other").isPresent());
        assertTrue(store.getTag(A, "same-digest-no-manifest").isPresent(), "A held no manifest under it");
        assertTrue(store.referrers(B, D2).isEmpty());
        assertTrue(index.refs(D1).isEmpty());
        assertEquals(List.of(new LruEntry(1, D3)), index.lru(null, 10));
        assertTrue(index.removeBlob(D1, r -> true).isEmpty(), "nothing left");
    }

    @Test
    void removeBlobWithoutARecordStillDropsItsRefsWhenAllowed() {
        store.linkBlob(A, D1);
        assertTrue(index.removeBlob(D1, r -> false).isEmpty());
        assertTrue(store.isBlobLinked(A, D1));
        assertTrue(index.removeBlob(D1, r -> true).isEmpty());
        assertFalse(store.isBlobLinked(A, D1));
        assertEquals(0, index.blobBytes());
    }

    @Test
    void listingsAreSorted() {
        store.putManifest(A, new ManifestRecord(D2, null, 2, null, null, null));
        store.putManifest(A, new ManifestRecord(D1, null, 1, null, null, null));
        store.putTag(A, "b", new TagRecord(D1, null, 1, 1, 1));
        store.putTag(A, "a", new TagRecord(D2, null, 2, 1, 1));
        store.linkBlob(B, D3);
        List<Digest> byDigest = List.of(D1, D2).stream()
                .sorted((x, y) -> x.toString().compareTo(y.toString())).toList();
        assertEquals(byDigest, index.manifests(A).stream().map(ManifestRecord::digest).toList());
        assertEquals(List.of(new CacheIndex.TagEntry("a", new TagRecord(D2, null, 2, 1, 1)),
                new CacheIndex.TagEntry("b", new TagRecord(D1, null, 1, 1, 1))), index.tags(A));
        assertEquals(List.of(B, A), index.repositories()); // "docker.io/..." < "local/..."
        assertEquals(List.of(), index.manifests(B));
        assertEquals(List.of(), index.tags(B));
    }

    /** More records than a page of a paged scan: every one, once, in digest order. */
    @Test
    void forEachBlobVisitsEveryRecordInDigestOrder() {
        List<String> written = new ArrayList<>();
        for (int i = 0; i < 1_003; i++) {
            Digest d = digest("blob-" + i);
            store.putBlob(new BlobRecord(d, i, null, 1, 1));
            written.add(d.toString());
        }
        written.sort(null);
        List<String> seen = new ArrayList<>();
        index.forEachBlob(r -> seen.add(r.digest().toString()));
        assertEquals(written, seen);
    }

    @Test
    void rebuildIndexReturnsTheSumOfTheRecords() {
        store.putBlob(new BlobRecord(D1, 100, null, 1, 1));
        store.putBlob(new BlobRecord(D2, 20, null, 1, 2));
        store.linkBlob(A, D1);
        AtomicLong heard = new AtomicLong(-1);
        index.addBlobBytesListener(heard::set);
        assertEquals(120, index.rebuildIndex());
        assertEquals(120, index.blobBytes());
        assertEquals(120, heard.get());
        assertEquals(List.of(new LruEntry(1, D1), new LruEntry(2, D2)), index.lru(null, 10));
        assertEquals(List.of(new BlobRef(A, false)), index.refs(D1));
    }

    @Test
    void theTotalSurvivesAReopen() throws IOException {
        store.putBlob(new BlobRecord(D1, 100, null, 1, 1));
        store.putBlob(new BlobRecord(D2, 20, null, 1, 2));
        store.close();
        store = open(CLOCK);
        index = (CacheIndex) store;
        assertEquals(120, index.blobBytes());
    }

    @Test
    void pinsAreASortedSet() throws IOException {
        assertTrue(index.addPin("docker.io/library/nginx:1.27"));
        assertTrue(index.addPin("docker.io/library/alpine:3.20"));
        assertFalse(index.addPin("docker.io/library/alpine:3.20"));
        assertEquals(List.of("docker.io/library/alpine:3.20", "docker.io/library/nginx:1.27"), index.pins());
        assertTrue(index.removePin("docker.io/library/nginx:1.27"));
        assertFalse(index.removePin("docker.io/library/nginx:1.27"));
        store.close();
        store = open(CLOCK);
        index = (CacheIndex) store;
        assertEquals(List.of("docker.io/library/alpine:3.20"), index.pins());
        assertEquals(Optional.empty(), store.getBlob(D1));
    }

    protected static Digest digest(String content) {
        return Digest.sha256(content.getBytes(UTF_8));
    }
}
