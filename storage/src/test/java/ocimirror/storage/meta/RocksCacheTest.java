package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;

/** The {@link CacheIndexContract} on RocksDB, and the upgrade of databases from before the index. */
class RocksCacheTest extends CacheIndexContract {

    @TempDir
    Path dir;

    @Override
    protected MetadataStore open(Clock clock) throws IOException {
        return RocksMetadataStore.open(dir.resolve("meta"), clock);
    }

    @Test
    void aDatabaseFromBeforeTheIndexGetsItBuiltOnceAtOpen() throws Exception {
        Path old = dir.resolve("old"); // apart from the contract's store in dir
        // The layout of the previous version: no lru, refs or pins, no total, links without times.
        RocksDB.loadLibrary();
        List<ColumnFamilyDescriptor> families = new ArrayList<>();
        for (String name : List.of("default", "tags", "manifests", "links", "referrers", "repos", "blobs", "uploads")) {
            families.add(new ColumnFamilyDescriptor(name.getBytes(UTF_8)));
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try (DBOptions options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
             RocksDB db = RocksDB.open(options, old.toString(), families, handles)) {
            db.put(handles.get(6), Keys.blob(D1), Codec.encode(new BlobRecord(D1, 300, null, 7, 9)));
            db.put(handles.get(6), Keys.blob(D2), Codec.encode(new BlobRecord(D2, 200, null, 7, 8)));
            db.put(handles.get(3), Keys.link(A, D1), new byte[0]);
            db.put(handles.get(2), Keys.manifest(B, D2), Codec.encode(new ManifestRecord(D2, null, 200, null, null, null)));
            handles.forEach(ColumnFamilyHandle::close);
        }
        try (RocksMetadataStore s = RocksMetadataStore.open(old, CLOCK)) {
            assertEquals(500, s.blobBytes());
            assertEquals(List.of(new LruEntry(8, D2), new LruEntry(9, D1)), s.lru(null, 10));
            assertEquals(List.of(new BlobRef(A, false)), s.refs(D1));
            assertEquals(List.of(new BlobRef(B, true)), s.refs(D2));
            assertEquals(List.of(new LinkRecord(D1, 0)), s.links(A), "a link without a time is old");
        }
    }
}
