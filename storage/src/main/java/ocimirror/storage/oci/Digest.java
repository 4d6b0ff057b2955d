package ocimirror.storage.oci;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A validated content digest, {@code algorithm:hex}. Only sha256 (required by the spec) and
 * sha512 are accepted; the hex is lower case and of the algorithm's exact length, so a
 * digest is always safe to turn into a file name.
 *
 * <p>A value class (equal when the text is) that keeps its text: every manifest response carries it
 * in two headers and every cached lookup keys on it, and a record would build it anew each time.
 */
public final class Digest {
    private final Algorithm algorithm;
    private final String hex;
    private final String text;

    public enum Algorithm {
        SHA256("sha256", "SHA-256", 64),
        SHA512("sha512", "SHA-512", 128);

        private final String prefix;
        private final String jcaName;
        private final int hexLength;

        Algorithm(String prefix, String jcaName, int hexLength) {
            this.prefix = prefix;
            this.jcaName = jcaName;
            this.hexLength = hexLength;
        }

        /** The name as it appears in a digest string, e.g. {@code sha256}. */
        public String prefix() {
            return prefix;
        }

        public int hexLength() {
            return hexLength;
        }

        public MessageDigest newMessageDigest() {
            try {
                return MessageDigest.getInstance(jcaName);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("JDK lacks " + jcaName, e);
            }
        }

        static Algorithm of(String prefix) {
            for (Algorithm a : values()) {
                if (a.prefix.equals(prefix)) {
                    return a;
                }
            }
            return null;
        }
    }

    // The spec's grammar: algorithm ":" encoded, algorithm-component ([+._-] component)*
    private static final Pattern GRAMMAR = Pattern.compile("[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");

    /** @throws OciException {@link OciError#DIGEST_INVALID} unless {@code hex} is lower-case hex of the algorithm's length */
    public Digest(Algorithm algorithm, String hex) {
        if (algorithm == null || hex == null || hex.length() != algorithm.hexLength || !isLowerHex(hex, 0)) {
            throw OciError.DIGEST_INVALID.exception("invalid " + (algorithm == null ? "" : algorithm.prefix + " ") + "digest hex");
        }
        this.algorithm = algorithm;
        this.hex = hex;
        this.text = algorithm.prefix + ":" + hex;
    }

    /** A digest already checked: {@code text} is {@code algorithm:hex}. */
    private Digest(Algorithm algorithm, String hex, String text) {
        this.algorithm = algorithm;
        this.hex = hex;
        this.text = text;
    }

    public Algorithm algorithm() {
        return algorithm;
    }

    /** The encoded part, lower-case hex. */
    public String hex() {
        return hex;
    }

    /**
     * Parses and validates a digest string.
     *
     * @throws OciException {@link OciError#DIGEST_INVALID} if it is malformed or of an unsupported algorithm
     */
    public static Digest parse(String s) {
        // Almost every digest on the wire is sha256: checked by hand, without the grammar's regex.
        if (s != null && s.length() == 7 + 64 && s.startsWith("sha256:") && isLowerHex(s, 7)) {
            return new Digest(Algorithm.SHA256, s.substring(7), s);
        }
        if (s == null || s.length() > 256 || !GRAMMAR.matcher(s).matches()) {
            throw OciError.DIGEST_INVALID.exception("malformed digest: " + abbreviate(s));
        }
        int colon = s.indexOf(':');
        Algorithm algorithm = Algorithm.of(s.substring(0, colon));
        if (algorithm == null) {
            throw OciError.DIGEST_INVALID.exception("unsupported digest algorithm: " + s.substring(0, colon));
        }
        String hex = s.substring(colon + 1);
        if (hex.length() != algorithm.hexLength || !isLowerHex(hex, 0)) {
            throw OciError.DIGEST_INVALID.exception("invalid " + algorithm.prefix + " digest: " + abbreviate(s));
        }
        return new Digest(algorithm, hex, s);
    }

    /** Whether {@code s} from {@code start} on is lower-case hex (and not empty). */
    private static boolean isLowerHex(String s, int start) {
        if (s.length() <= start) {
            return false;
        }
        for (int i = start; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    /** True if {@code s} parses as a supported digest. */
    public static boolean isDigest(String s) {
        try {
            parse(s);
            return true;
        } catch (OciException e) {
            return false;
        }
    }

    /** The digest of {@code bytes} under {@code algorithm}. */
    public static Digest of(Algorithm algorithm, byte[] bytes) {
        return fromHash(algorithm, algorithm.newMessageDigest().digest(bytes));
    }

    /** The sha256 digest of {@code bytes}. */
    public static Digest sha256(byte[] bytes) {
        return of(Algorithm.SHA256, bytes);
    }

    public static Digest fromHash(Algorithm algorithm, byte[] hash) {
        return new Digest(algorithm, HexFormat.of().formatHex(hash));
    }

    /** {@code algorithm:hex}, as on the wire. */
    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Digest d && text.equals(d.text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }

    private static String abbreviate(String s) {
        if (s == null) {
            return "(none)";
        }
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
