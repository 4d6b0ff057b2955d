package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;

/** The derived data: byte total, eviction order, refs, link times, pins, and the upgrade of older databases. */
class RocksCacheTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC);
    private static final RepoName A = RepoName.of("local/a");
    private static final RepoName B = RepoName.of("docker.io/library/b");
    private static final Digest D1 = Digest.sha256("one".getBytes(UTF_8));
    private static final Digest D2 = Digest.sha256("two".getBytes(UTF_8));

    @TempDir
    Path dir;

    @Test
    void putReplacesWithoutCountingTwiceAndListenersHearTheTotal() throws Exception {
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            AtomicLong heard = new AtomicLong(-1);
            s.addBlobBytesListener(heard::set);
            s.putBlob(new BlobRecord(D1, 100, null, 1, 1));
            s.putBlob(new BlobRecord(D1, 100, null, 1, 5));
            s.putBlob(new BlobRecord(D2, 50, null, 2, 2));
            assertEquals(150, s.blobBytes());
            assertEquals(150, heard.get());
            assertEquals(List.of(new LruEntry(2, D2), new LruEntry(5, D1)), s.lru(null, 10));
            assertEquals(List.of(new LruEntry(5, D1)), s.lru(new LruEntry(2, D2), 10));
            s.touchBlob(D2, 1); // older than recorded: ignored
            assertEquals(2, s.getBlob(D2).orElseThrow().lastAccess());
            s.deleteBlob(D1);
            s.deleteBlob(D1);
            assertEquals(50, s.blobBytes());
            assertEquals(50, heard.get());
        }
    }

    @Test
    void refsFollowLinksAndManifests() throws Exception {
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            s.linkBlob(A, D1);
            s.linkBlob(B, D1);
            s.putManifest(B, new ManifestRecord(D1, null, 1, null, null, null));
            assertEquals(Set.of(new BlobRef(A, false), new BlobRef(B, false), new BlobRef(B, true)), Set.copyOf(s.refs(D1)));
            assertTrue(s.unlinkBlob(A, D1));
            assertTrue(s.deleteManifest(B, D1));
            assertEquals(List.of(new BlobRef(B, false)), s.refs(D1));
            assertTrue(s.refs(D2).isEmpty());
        }
    }

    @Test
    void linksCarryTheirTimeAndConditionalUnlinkRespectsIt() throws Exception {
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            s.linkBlob(A, D1);
            long t = CLOCK.millis();
            assertEquals(List.of(new LinkRecord(D1, t)), s.links(A));
            assertFalse(s.unlinkIfOlder(A, D1, t), "made at the cutoff: not older");
            assertTrue(s.unlinkIfOlder(A, D1, t + 1));
            assertFalse(s.isBlobLinked(A, D1));
            assertTrue(s.refs(D1).isEmpty());
        }
    }

    @Test
    void removeBlobIsRefusedByAProtectedRepositoryAndOtherwiseTakesEverything() throws Exception {
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            s.putBlob(new BlobRecord(D1, 10, null, 1, 1));
            s.linkBlob(A, D1);
            s.putManifest(B, new ManifestRecord(D1, null, 10, D2, null, null));
            s.putTag(B, "latest", new TagRecord(D1, null, 10, 1, 1));
            assertTrue(s.removeBlob(D1, r -> r.equals(B)).isEmpty());
            assertEquals(10, s.blobBytes());
            assertTrue(s.getTag(B, "latest").isPresent());

            assertEquals(10, s.removeBlob(D1, r -> true).orElseThrow().size());
            assertEquals(0, s.blobBytes());
            assertFalse(s.isBlobLinked(A, D1));
            assertTrue(s.getManifest(B, D1).isEmpty());
            assertTrue(s.getTag(B, "latest").isEmpty());
            assertTrue(s.referrers(B, D2).isEmpty());
            assertTrue(s.refs(D1).isEmpty());
            assertTrue(s.lru(null, 10).isEmpty());
        }
    }

    @Test
    void pinsAreASortedSet() throws Exception {
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            assertTrue(s.addPin("docker.io/library/nginx:1.27"));
            assertTrue(s.addPin("docker.io/library/alpine:3.20"));
            assertFalse(s.addPin("docker.io/library/alpine:3.20"));
            assertEquals(List.of("docker.io/library/alpine:3.20", "docker.io/library/nginx:1.27"), s.pins());
            assertTrue(s.removePin("docker.io/library/nginx:1.27"));
            assertFalse(s.removePin("docker.io/library/nginx:1.27"));
        }
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            assertEquals(List.of("docker.io/library/alpine:3.20"), s.pins());
        }
    }

    @Test
    void aDatabaseFromBeforeTheIndexGetsItBuiltOnceAtOpen() throws Exception {
        // The layout of the previous version: no lru, refs or pins, no total, links without times.
        RocksDB.loadLibrary();
        List<ColumnFamilyDescriptor> families = new ArrayList<>();
        for (String name : List.of("default", "tags", "manifests", "links", "referrers", "repos", "blobs", "uploads")) {
            families.add(new ColumnFamilyDescriptor(name.getBytes(UTF_8)));
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try (DBOptions options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
             RocksDB db = RocksDB.open(options, dir.toString(), families, handles)) {
            db.put(handles.get(6), Keys.blob(D1), Codec.encode(new BlobRecord(D1, 300, null, 7, 9)));
            db.put(handles.get(6), Keys.blob(D2), Codec.encode(new BlobRecord(D2, 200, null, 7, 8)));
            db.put(handles.get(3), Keys.link(A, D1), new byte[0]);
            db.put(handles.get(2), Keys.manifest(B, D2), Codec.encode(new ManifestRecord(D2, null, 200, null, null, null)));
            handles.forEach(ColumnFamilyHandle::close);
        }
        try (RocksMetadataStore s = RocksMetadataStore.open(dir, CLOCK)) {
            assertEquals(500, s.blobBytes());
            assertEquals(List.of(new LruEntry(8, D2), new LruEntry(9, D1)), s.lru(null, 10));
            assertEquals(List.of(new BlobRef(A, false)), s.refs(D1));
            assertEquals(List.of(new BlobRef(B, true)), s.refs(D2));
            assertEquals(List.of(new LinkRecord(D1, 0)), s.links(A), "a link without a time is old");
        }
    }
}
