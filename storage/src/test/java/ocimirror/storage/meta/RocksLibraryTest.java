package ocimirror.storage.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;

/** The one-time copy of RocksDB's library out of its jar ({@code bin/ocimirror}'s cache). */
class RocksLibraryTest {
    @TempDir
    Path cache;

    @Test
    void copiesTheLibraryOnceUnderTheNameLoadLibraryLooksFor() throws Exception {
        Path dir = RocksLibrary.cached(cache);
        Path lib = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
        assertEquals(cache, dir.getParent());
        assertTrue(dir.getFileName().toString().startsWith("rocksdb-"), dir.toString());
        assertArrayEquals(sha256(jarCopy()), sha256(Files.newInputStream(lib)), "the jar's bytes");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(lib), files.toList(), "no temporary file left");
        }

        FileTime old = FileTime.from(Instant.parse("2020-01-01T00:00:00Z"));
        Files.setLastModifiedTime(lib, old);
        assertEquals(dir, RocksLibrary.cached(cache));
        assertEquals(old, Files.getLastModifiedTime(lib), "a later start loads the copy as it is");
    }

    @Test
    void aTruncatedCopyIsReplaced() throws Exception {
        Path lib = RocksLibrary.cached(cache).resolve(Environment.getJniLibraryFileName("rocksdbjni"));
        long size = Files.size(lib);
        Files.write(lib, new byte[100]);
        RocksLibrary.cached(cache);
        assertEquals(size, Files.size(lib));
        assertArrayEquals(sha256(jarCopy()), sha256(Files.newInputStream(lib)));
    }

    private static InputStream jarCopy() {
        return RocksDB.class.getClassLoader().getResourceAsStream(Environment.getJniLibraryFileName("rocksdb"));
    }

    private static byte[] sha256(InputStream in) throws Exception {
        try (in) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return md.digest();
        }
    }
}
