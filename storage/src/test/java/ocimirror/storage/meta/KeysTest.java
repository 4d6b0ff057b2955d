package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Map;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;

class KeysTest {
    private static final Digest D = Digest.sha256("x".getBytes(UTF_8));

    @Test
    void keysAreNulSeparated() {
        RepoName repo = RepoName.of("a/b");
        assertArrayEquals("a/b\0latest".getBytes(UTF_8), Keys.tag(repo, "latest"));
        assertArrayEquals(("a/b\0" + D).getBytes(UTF_8), Keys.manifest(repo, D));
        assertArrayEquals(("a/b\0" + D + "\0" + D).getBytes(UTF_8), Keys.referrer(repo, D, D));
        assertArrayEquals(("a/b\0" + D + "\0").getBytes(UTF_8), Keys.referrerPrefix(repo, D));
        assertArrayEquals("a/b\0".getBytes(UTF_8), Keys.repoPrefix(repo));
        assertEquals("latest", Keys.suffix(Keys.tag(repo, "latest"), Keys.repoPrefix(repo).length));
    }

    @Test
    void upperBoundIsExclusiveEndOfPrefix() {
        assertArrayEquals(new byte[] {'a', '/', 'b', 1}, Keys.upperBound("a/b\0".getBytes(UTF_8)));
        assertArrayEquals(new byte[] {'b'}, Keys.upperBound(new byte[] {'a', (byte) 0xFF}));
        assertNull(Keys.upperBound(new byte[0]));
        assertNull(Keys.upperBound(new byte[] {(byte) 0xFF, (byte) 0xFF}));
        // every key of the repository sorts below the bound, the neighbour "a/b/c" above it
        byte[] bound = Keys.upperBound(Keys.repoPrefix(RepoName.of("a/b")));
        assertEquals(-1, Integer.signum(Arrays.compareUnsigned(Keys.tag(RepoName.of("a/b"), "zzz"), bound)));
        assertEquals(1, Integer.signum(Arrays.compareUnsigned(Keys.tag(RepoName.of("a/b/c"), "0"), bound)));
        assertArrayEquals("ab\0".getBytes(UTF_8), Keys.successor("ab".getBytes(UTF_8)));
    }

    @Test
    void codecRoundTripsAndRejectsGarbage() {
        ManifestRecord m = new ManifestRecord(D, "t", 5, D, null, Map.of("k", "v\u00e9"));
        assertEquals(m, Codec.decodeManifest(Codec.encode(m)));
        UploadRecord u = new UploadRecord("id", RepoName.of("r"), 9);
        assertEquals(u, Codec.decodeUpload(Codec.encode(u)));
        assertEquals(123L, Codec.decodeTime(Codec.encodeTime(123L)));
        byte[] tag = Codec.encode(new TagRecord(D, null, 1, 2, 3));
        assertThrows(MetadataException.class, () -> Codec.decodeTag(Arrays.copyOf(tag, tag.length - 1)));
        assertThrows(MetadataException.class, () -> Codec.decodeTag(Arrays.copyOf(tag, tag.length + 1)));
        byte[] wrongFormat = tag.clone();
        wrongFormat[0] = 99;
        assertThrows(MetadataException.class, () -> Codec.decodeTag(wrongFormat));
        assertThrows(MetadataException.class, () -> Codec.decodeTag(new byte[0]));
    }

    /** Sessions written before they had an owner (RocksDB data of earlier versions) read as the single node's. */
    @Test
    void anUploadRecordWithoutAnOwnerIsTheLocalNodes() throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            out.writeByte(Codec.V1); // the layout before owners: id, repo, startedAt
            for (String s : new String[] {"u1", "a/b"}) {
                out.writeInt(s.length());
                out.write(s.getBytes(UTF_8));
            }
            out.writeLong(42);
        }
        assertEquals(new UploadRecord("u1", RepoName.of("a/b"), 42, UploadRecord.LOCAL),
                Codec.decodeUpload(bytes.toByteArray()));
        UploadRecord owned = new UploadRecord("u2", RepoName.of("a/b"), 43, "replica-7");
        assertEquals(owned, Codec.decodeUpload(Codec.encode(owned)));
    }
}
