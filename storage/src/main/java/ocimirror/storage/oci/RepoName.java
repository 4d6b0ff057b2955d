package ocimirror.storage.oci;

/**
 * A repository name that matches the distribution spec's grammar
 * ({@code [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*}),
 * so it never contains {@code ..}, an empty segment, or anything a path could escape with.
 */
public record RepoName(String value) implements Comparable<RepoName> {
    public static final int MAX_LENGTH = 255;

    public RepoName {
        if (!isValid(value)) {
            throw OciError.NAME_INVALID.exception("invalid repository name: "
                    + (value == null ? "(none)" : value.length() > 80 ? value.substring(0, 80) + "..." : value));
        }
    }

    public static RepoName of(String value) {
        return new RepoName(value);
    }

    public static boolean isValid(String value) {
        return value != null && !value.isEmpty() && value.length() <= MAX_LENGTH && matchesGrammar(value);
    }

    /**
     * The grammar above, scanned by hand: every request names a repository, and a regex match
     * allocated a matcher and its group arrays each time (a tenth of a manifest GET's garbage).
     */
    private static boolean matchesGrammar(String s) {
        int n = s.length();
        int i = 0;
        while (true) {
            i = alnumRun(s, i); // a path component: alphanumerics, joined by separators
            if (i < 0) {
                return false;
            }
            while (i < n && s.charAt(i) != '/') {
                char c = s.charAt(i++);
                if (c == '_') {
                    if (i < n && s.charAt(i) == '_') {
                        i++;
                    }
                } else if (c == '-') {
                    while (i < n && s.charAt(i) == '-') {
                        i++;
                    }
                } else if (c != '.') {
                    return false;
                }
                i = alnumRun(s, i);
                if (i < 0) {
                    return false;
                }
            }
            if (i == n) {
                return true;
            }
            i++; // the '/' before the next component
        }
    }

    /** The index after the run of [a-z0-9] starting at {@code i}, or -1 if there is none. */
    private static int alnumRun(String s, int i) {
        int start = i;
        while (i < s.length() && isAlnum(s.charAt(i))) {
            i++;
        }
        return i > start ? i : -1;
    }

    private static boolean isAlnum(char c) {
        return c >= 'a' && c <= 'z' || c >= '0' && c <= '9';
    }

    @Override
    public int compareTo(RepoName o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
