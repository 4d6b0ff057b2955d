package ocimirror.server.bundle;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Locale;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;

/**
 * The compression around a bundle tar, told by its first bytes (magic numbers), not its name:
 * vendors ship {@code .tgz}, {@code .tar.gz}, {@code .txz} and unnamed files alike.
 */
public enum Compression {
    NONE, GZIP, XZ, BZIP2;

    private static final byte[] GZIP_MAGIC = {0x1f, (byte) 0x8b};
    private static final byte[] XZ_MAGIC = {(byte) 0xfd, '7', 'z', 'X', 'Z', 0};
    private static final byte[] BZIP2_MAGIC = {'B', 'Z', 'h'};
    private static final byte[] ZSTD_MAGIC = {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd};

    /** The compression of the stream ahead; {@code in} must support mark/reset. */
    static Compression detect(InputStream in) throws IOException {
        in.mark(8);
        byte[] head = in.readNBytes(6);
        in.reset();
        if (startsWith(head, GZIP_MAGIC)) {
            return GZIP;
        }
        if (startsWith(head, XZ_MAGIC)) {
            return XZ;
        }
        if (startsWith(head, BZIP2_MAGIC)) {
            return BZIP2;
        }
        if (startsWith(head, ZSTD_MAGIC)) {
            throw new IOException("zstd-compressed bundles are not supported: decompress it first (zstd -d)");
        }
        return NONE;
    }

    /** {@code raw} decompressed as its first bytes say (concatenated gzip and xz members included). */
    static InputStream open(InputStream raw) throws IOException {
        InputStream in = raw.markSupported() ? raw : new BufferedInputStream(raw, 1 << 16);
        return switch (detect(in)) {
            case GZIP -> new GzipCompressorInputStream(in, true);
            case XZ -> new XZCompressorInputStream(in, true);
            case BZIP2 -> new BZip2CompressorInputStream(in, true);
            case NONE -> in;
        };
    }

    /** The compression an output file's name asks for: {@code .gz}/{@code .tgz}, {@code .xz}/{@code .txz}, else none. */
    static Compression forName(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        if (n.endsWith(".gz") || n.endsWith(".tgz")) {
            return GZIP;
        }
        if (n.endsWith(".xz") || n.endsWith(".txz")) {
            return XZ;
        }
        return NONE;
    }

    /** Wraps {@code out} in this compression (bzip2 is only read). */
    OutputStream wrap(OutputStream out) throws IOException {
        return switch (this) {
            case GZIP -> new GzipCompressorOutputStream(out);
            case XZ -> new XZCompressorOutputStream(out);
            case NONE -> out;
            case BZIP2 -> throw new IOException("bzip2 output is not supported");
        };
    }

    private static boolean startsWith(byte[] head, byte[] magic) {
        return head.length >= magic.length && Arrays.equals(head, 0, magic.length, magic, 0, magic.length);
    }
}
