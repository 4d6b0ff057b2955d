package ocimirror.server.bundle;

import java.io.IOException;
import ocimirror.server.progress.Progress;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.oci.Digest;

/**
 * The files of a bundle by their path inside it ({@code index.json}, {@code blobs/sha256/ab..},
 * {@code 3f0e../layer.tar}): small JSON files are read into memory, content is committed into
 * the blob store, verified against the digest the bundle's metadata gives it. Closing discards
 * whatever was not committed. Single-threaded.
 */
interface BundleFiles extends AutoCloseable {

    /** What the bundle is, for messages ({@code bundle.tar.gz}). */
    String describe();

    /** Whether {@code path} is a file of the bundle (links followed). */
    boolean exists(String path);

    /** Its size in bytes, or -1 if absent. */
    long size(String path);

    /**
     * Reads a small file.
     *
     * @throws BundleException if it is absent or larger than {@code max} bytes
     */
    byte[] read(String path, int max) throws IOException;

    /**
     * Commits the file as blob {@code expected}: a {@code DIGEST_INVALID} or
     * {@code SIZE_INVALID} {@link ocimirror.storage.oci.OciException} if its content is not that.
     * Committing a path twice gives the first result (the same layer in two images).
     *
     * @param progress counts the bytes copied, where committing copies them
     */
    BlobInfo commit(String path, Digest expected, long expectedSize, Progress progress) throws IOException;

    @Override
    void close();

    /**
     * {@code path} in the bundle's own terms, normalised: no leading {@code ./} or {@code /},
     * no {@code .} or {@code ..} segments; null if it would leave the bundle.
     */
    static String normalize(String path) {
        java.util.ArrayDeque<String> parts = new java.util.ArrayDeque<>();
        for (String p : path.replace('\\', '/').split("/")) {
            if (p.isEmpty() || p.equals(".")) {
                continue;
            }
            if (p.equals("..")) {
                if (parts.isEmpty()) {
                    return null;
                }
                parts.removeLast();
            } else {
                parts.addLast(p);
            }
        }
        return parts.isEmpty() ? null : String.join("/", parts);
    }
}
