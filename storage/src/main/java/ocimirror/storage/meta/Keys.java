package ocimirror.storage.meta;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.Arrays;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * Byte keys per column family: UTF-8 strings joined with {@code \0}. No repository name, tag
 * or digest can contain {@code \0}, and {@code \0} sorts before every character they can
 * contain, so a repository's keys are exactly those starting with {@code repo\0} (never
 * {@code repo/sub\0}), and byte order is the lexical order listings promise.
 *
 * <pre>
 * tags       repo \0 tag                          -> TagRecord
 * manifests  repo \0 digest                       -> ManifestRecord
 * links      repo \0 digest                       -> (empty)
 * referrers  repo \0 subject \0 manifest-digest   -> ManifestRecord (of the referrer)
 * repos      repo                                 -> created-at
 * blobs      digest                               -> BlobRecord
 * uploads    id                                   -> UploadRecord
 * lru        last-access (8 bytes, big-endian) \0 digest -> (empty): blobs, least recently used first
 * refs       digest \0 kind \0 repo                -> (empty): which repositories link ({@code l}) or
 *                                                    hold as a manifest ({@code m}) a blob
 * pins       image reference                      -> added-at
 * default    "blobBytes" -> long, "schema" -> long  (counters and the layout version)
 * </pre>
 */
final class Keys {
    static final byte SEP = 0;

    private Keys() {
    }

    static byte[] repo(RepoName repo) {
        return utf8(repo.value());
    }

    /** {@code repo\0}: the prefix of every per-repository key. */
    static byte[] repoPrefix(RepoName repo) {
        return join(repo.value(), "");
    }

    static byte[] tag(RepoName repo, String tag) {
        return join(repo.value(), tag);
    }

    static byte[] manifest(RepoName repo, Digest digest) {
        return join(repo.value(), digest.toString());
    }

    static byte[] link(RepoName repo, Digest digest) {
        return join(repo.value(), digest.toString());
    }

    static byte[] referrer(RepoName repo, Digest subject, Digest manifest) {
        return join(repo.value(), subject.toString(), manifest.toString());
    }

    /** {@code repo\0subject\0}. */
    static byte[] referrerPrefix(RepoName repo, Digest subject) {
        return join(repo.value(), subject.toString(), "");
    }

    static byte[] blob(Digest digest) {
        return utf8(digest.toString());
    }

    static byte[] lru(long lastAccess, Digest digest) {
        byte[] d = utf8(digest.toString());
        byte[] key = new byte[9 + d.length];
        long v = lastAccess;
        for (int i = 7; i >= 0; i--) {
            key[i] = (byte) v;
            v >>>= 8;
        }
        key[8] = SEP;
        System.arraycopy(d, 0, key, 9, d.length);
        return key;
    }

    /** The last-access time of an {@link #lru} key (times are never negative, so byte order is time order). */
    static long lruTime(byte[] key) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (key[i] & 0xFF);
        }
        return v;
    }

    static Digest lruDigest(byte[] key) {
        return Digest.parse(suffix(key, 9));
    }

    static final String REF_LINK = "l";
    static final String REF_MANIFEST = "m";

    static byte[] ref(Digest digest, String kind, RepoName repo) {
        return join(digest.toString(), kind, repo.value());
    }

    /** {@code digest\0}: the prefix of a blob's refs. */
    static byte[] refPrefix(Digest digest) {
        return join(digest.toString(), "");
    }

    /** {@code digest\0kind\0}: the prefix of a blob's refs of one kind. */
    static byte[] refPrefix(Digest digest, String kind) {
        return join(digest.toString(), kind, "");
    }

    static byte[] upload(String id) {
        return utf8(id);
    }

    /** {@code prefix + s}. */
    static byte[] append(byte[] prefix, String s) {
        byte[] tail = utf8(s);
        byte[] key = Arrays.copyOf(prefix, prefix.length + tail.length);
        System.arraycopy(tail, 0, key, prefix.length, tail.length);
        return key;
    }

    /** The smallest key sorting after {@code key}: {@code key\0}. */
    static byte[] successor(byte[] key) {
        return Arrays.copyOf(key, key.length + 1);
    }

    /**
     * The smallest key greater than every key starting with {@code prefix} (an exclusive upper
     * bound for a prefix scan), or null if there is none (empty or all-0xFF prefix).
     */
    static byte[] upperBound(byte[] prefix) {
        for (int i = prefix.length - 1; i >= 0; i--) {
            if (prefix[i] != (byte) 0xFF) {
                byte[] bound = Arrays.copyOf(prefix, i + 1);
                bound[i]++;
                return bound;
            }
        }
        return null;
    }

    /** The key's text after {@code prefixLength} bytes. */
    static String suffix(byte[] key, int prefixLength) {
        return new String(key, prefixLength, key.length - prefixLength, UTF_8);
    }

    static byte[] utf8(String s) {
        return s.getBytes(UTF_8);
    }

    private static byte[] join(String... parts) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                sb.append((char) SEP);
            }
            sb.append(parts[i]);
        }
        return utf8(sb.toString());
    }
}
