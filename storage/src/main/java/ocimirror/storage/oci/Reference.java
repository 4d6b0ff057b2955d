package ocimirror.storage.oci;

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

        public Tag {
            if (!isValid(name)) {
                throw OciError.TAG_INVALID.exception("invalid tag: "
                        + (name == null ? "(none)" : name.length() > 80 ? name.substring(0, 80) + "..." : name));
            }
        }

        /** {@code [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}}, scanned by hand (no matcher per request). */
        public static boolean isValid(String name) {
            if (name == null || name.isEmpty() || name.length() > 128) {
                return false;
            }
            char first = name.charAt(0);
            if (!isWordChar(first)) {
                return false;
            }
            for (int i = 1; i < name.length(); i++) {
                char c = name.charAt(i);
                if (!isWordChar(c) && c != '.' && c != '-') {
                    return false;
                }
            }
            return true;
        }

        private static boolean isWordChar(char c) {
            return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_';
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
