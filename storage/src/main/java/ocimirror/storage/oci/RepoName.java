package ocimirror.storage.oci;

import java.util.regex.Pattern;

/**
 * A repository name that matches the distribution spec's grammar
 * ({@code [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*}),
 * so it never contains {@code ..}, an empty segment, or anything a path could escape with.
 */
public record RepoName(String value) implements Comparable<RepoName> {
    public static final int MAX_LENGTH = 255;
    private static final Pattern GRAMMAR = Pattern.compile(
            "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");

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
        return value != null && !value.isEmpty() && value.length() <= MAX_LENGTH && GRAMMAR.matcher(value).matches();
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
