package ocimirror.storage.oci;

import java.util.regex.Pattern;

/** What follows {@code /manifests/}: a tag or a digest. */
public sealed interface Reference permits Reference.Tag, Reference.ByDigest {

    /** Parses a tag ({@code [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}}) or, if it contains a colon, a digest. */
    static Reference parse(String s) {
        if (s != null && s.indexOf(':') >= 0) {
            return new ByDigest(Digest.parse(s));
        }
        return new Tag(s);
    }

    record Tag(String name) implements Reference {
        private static final Pattern GRAMMAR = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");

        public Tag {
            if (!isValid(name)) {
                throw OciError.TAG_INVALID.exception("invalid tag: "
                        + (name == null ? "(none)" : name.length() > 80 ? name.substring(0, 80) + "..." : name));
            }
        }

        public static boolean isValid(String name) {
            return name != null && GRAMMAR.matcher(name).matches();
        }

        @Override
        public String toString() {
            return name;
        }
    }

    record ByDigest(Digest digest) implements Reference {
        @Override
        public String toString() {
            return digest.toString();
        }
    }
}
