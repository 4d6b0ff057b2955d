package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.RepoName;

/**
 * Value encoding: a format byte ({@value #V1}) then the record's fields in declaration order
 * with {@link DataOutputStream}: {@code long}s as 8 bytes big-endian, strings (digests and repos
 * as text) as an {@code int} byte length ({@code -1} for null) and UTF-8, maps as an {@code int}
 * count and key/value string pairs. Compact, no reflection, and the format byte leaves room to
 * change a layout later. Decoding re-validates digests and repository names.
 */
final class Codec {
    static final byte V1 = 1;

    private Codec() {
    }

    static byte[] encode(TagRecord r) {
        return write(out -> {
            writeString(out, r.digest().toString());
            writeString(out, r.mediaType());
            out.writeLong(r.size());
            out.writeLong(r.fetchedAt());
            out.writeLong(r.checkedAt());
        });
    }

    static TagRecord decodeTag(byte[] value) {
        return read(value, in -> new TagRecord(readDigest(in), readString(in), in.readLong(), in.readLong(),
                in.readLong()));
    }

    static byte[] encode(ManifestRecord r) {
        return write(out -> {
            writeString(out, r.digest().toString());
            writeString(out, r.mediaType());
            out.writeLong(r.size());
            writeString(out, r.subject() == null ? null : r.subject().toString());
            writeString(out, r.artifactType());
            out.writeInt(r.annotations().size());
            for (Map.Entry<String, String> e : r.annotations().entrySet()) {
                writeString(out, e.getKey());
                writeString(out, e.getValue());
            }
        });
    }

    static ManifestRecord decodeManifest(byte[] value) {
        return read(value, in -> {
            Digest digest = readDigest(in);
            String mediaType = readString(in);
            long size = in.readLong();
            String subject = readString(in);
            String artifactType = readString(in);
            int count = in.readInt();
            if (count < 0 || count > value.length) {
                throw new IOException("bad annotation count " + count);
            }
            Map<String, String> annotations = new HashMap<>();
            for (int i = 0; i < count; i++) {
                annotations.put(readString(in), readString(in));
            }
            return new ManifestRecord(digest, mediaType, size, subject == null ? null : Digest.parse(subject),
                    artifactType, annotations);
        });
    }

    static byte[] encode(BlobRecord r) {
        return write(out -> {
            writeString(out, r.digest().toString());
            out.writeLong(r.size());
            writeString(out, r.mediaType());
            out.writeLong(r.createdAt());
            out.writeLong(r.lastAccess());
        });
    }

    static BlobRecord decodeBlob(byte[] value) {
        return read(value, in -> new BlobRecord(readDigest(in), in.readLong(), readString(in), in.readLong(),
                in.readLong()));
    }

    static byte[] encode(UploadRecord r) {
        return write(out -> {
            writeString(out, r.id());
            writeString(out, r.repo().value());
            out.writeLong(r.startedAt());
            writeString(out, r.owner());
        });
    }

    static UploadRecord decodeUpload(byte[] value) {
        // Sessions recorded before they had an owner end after startedAt: the single node's.
        return read(value, in -> new UploadRecord(readString(in), RepoName.of(readString(in)), in.readLong(),
                in.available() == 0 ? UploadRecord.LOCAL : readString(in)));
    }

    static byte[] encodeTime(long epochMillis) {
        return write(out -> out.writeLong(epochMillis));
    }

    static long decodeTime(byte[] value) {
        return read(value, DataInputStream::readLong);
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private interface Reader<T> {
        T read(DataInputStream in) throws IOException;
    }

    private static byte[] write(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(V1);
            writer.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    private static <T> T read(byte[] value, Reader<T> reader) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            byte format = in.readByte();
            if (format != V1) {
                throw new IOException("unknown value format " + format);
            }
            T result = reader.read(in);
            if (in.available() != 0) {
                throw new IOException(in.available() + " trailing bytes");
            }
            return result;
        } catch (IOException | OciException e) {
            throw new MetadataException("corrupt metadata value: " + e.getMessage(), e);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
            return;
        }
        byte[] b = s.getBytes(UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length == -1) {
            return null;
        }
        if (length < 0 || length > in.available()) {
            throw new IOException("bad string length " + length);
        }
        return new String(in.readNBytes(length), UTF_8);
    }

    private static Digest readDigest(DataInputStream in) throws IOException {
        String s = readString(in);
        if (s == null) {
            throw new IOException("missing digest");
        }
        return Digest.parse(s);
    }
}
