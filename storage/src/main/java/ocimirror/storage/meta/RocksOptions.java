package ocimirror.storage.meta;

import java.util.Deque;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.WriteBufferManager;

/**
 * The RocksDB options of {@link RocksMetadataStore}: sized for what the metadata is (small
 * records, at most a few hundred MiB for millions of blobs, with the OS page cache holding the
 * files), so that its native memory is bounded by a few constants rather than by RocksDB's
 * defaults, which are meant for a database that owns the machine. Durability is not touched:
 * the WAL and the store's sync writes are the same whatever these are.
 *
 * <p>With the defaults each of the eleven column families could grow its memtables to 2 × 64
 * MiB before a flush (an access-time write per blob and minute would get there on a big store),
 * and index and filter blocks lived outside any cache, growing with the number of files.
 */
record RocksOptions(DBOptions db, ColumnFamilyOptions families) {
    /**
     * One block cache for every column family: data, index and filter blocks, and the memtables'
     * reservations. A miss costs a read from the OS page cache and a decompression.
     */
    static final long CACHE_BYTES = 16L << 20;
    /** All memtables together; past it the largest is flushed (charged to the cache above). */
    static final long MEMTABLE_BYTES = 8L << 20;
    /** One column family's memtable: records are ~100 bytes, so this is tens of thousands of writes. */
    static final long WRITE_BUFFER_BYTES = 4L << 20;

    /** Creates the options, registering every native object in {@code owned} (closed from the top). */
    static RocksOptions create(Deque<AutoCloseable> owned) {
        LRUCache cache = new LRUCache(CACHE_BYTES);
        owned.push(cache);
        WriteBufferManager memtables = new WriteBufferManager(MEMTABLE_BYTES, cache);
        owned.push(memtables);
        DBOptions db = new DBOptions()
                .setCreateIfMissing(true)
                .setCreateMissingColumnFamilies(true)
                .setKeepLogFileNum(5)
                .setWriteBufferManager(memtables);
        owned.push(db);
        ColumnFamilyOptions families = new ColumnFamilyOptions()
                .setWriteBufferSize(WRITE_BUFFER_BYTES)
                .setMaxWriteBufferNumber(2)
                .setTableFormatConfig(new BlockBasedTableConfig()
                        .setBlockCache(cache)
                        // In the cache, so that they are bounded by it, not by the number of files;
                        // level 0's pinned, as the files every lookup reads first.
                        .setCacheIndexAndFilterBlocks(true)
                        .setPinL0FilterAndIndexBlocksInCache(true));
        owned.push(families);
        return new RocksOptions(db, families);
    }
}
