package ocimirror.config;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which repositories of an upstream the mirror may proxy: {@code allow} and {@code deny} globs
 * matched against the repository path at the upstream (after the alias or path prefix is
 * stripped and Docker Hub's implicit {@code library/} is added: {@code library/nginx}, never
 * {@code docker.io/nginx}). No allow list allows every repository; otherwise a repository must
 * match one allow glob. A deny glob that matches refuses it whatever the allow list says: deny
 * wins, so {@code allow: [bitnami/**]} with {@code deny: [bitnami/private-*]} reads as written.
 *
 * <p>Globs: {@code *} matches within one path segment (any characters but {@code /}, none
 * included); {@code **} is a whole segment and matches any number of segments: {@code a/**}
 * everything under {@code a} (not {@code a} itself), {@code **}{@code /nginx} {@code nginx} at
 * any depth, {@code a/**}{@code /b} also {@code a/b}. Every other character stands for itself
 * and must be one the distribution grammar allows in a repository name, so that a glob which
 * could never match (upper case, an empty segment, a segment starting with a separator) is
 * refused when the configuration is loaded. Immutable and thread-safe.
 */
public final class RepoRules {
    private static final RepoRules NONE = new RepoRules(List.of(), List.of(), List.of(), List.of());
    // A repository path component of the distribution grammar.
    private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
    private static final Pattern GLOB_CHARS = Pattern.compile("[a-z0-9._/*-]+");

    private final List<String> allow;
    private final List<String> deny;
    private final List<Pattern> allowPatterns;
    private final List<Pattern> denyPatterns;

    private RepoRules(List<String> allow, List<String> deny, List<Pattern> allowPatterns, List<Pattern> denyPatterns) {
        this.allow = allow;
        this.deny = deny;
        this.allowPatterns = allowPatterns;
        this.denyPatterns = denyPatterns;
    }

    /** Every repository allowed. */
    public static RepoRules none() {
        return NONE;
    }

    /**
     * @param allow          null: every repository not denied; otherwise at least one glob
     * @param deny           null or empty: nothing denied
     * @param libraryPrefixed the upstream is Docker Hub, whose names all have two segments at
     *                       least ({@code library/nginx}), so a one-segment glob could never match
     * @throws IllegalArgumentException naming the field ({@code allow[1]: ...}) of a glob that
     *                                  {@link #globProblem} refuses, or an empty allow list
     */
    public static RepoRules of(List<String> allow, List<String> deny, boolean libraryPrefixed) {
        if (allow != null && allow.isEmpty()) {
            throw new IllegalArgumentException("allow: an empty list would refuse every repository;"
                    + " leave allow out to allow all");
        }
        List<String> a = allow == null ? List.of() : List.copyOf(allow);
        List<String> d = deny == null ? List.of() : List.copyOf(deny);
        if (a.isEmpty() && d.isEmpty()) {
            return NONE;
        }
        return new RepoRules(a, d, compile("allow", a, libraryPrefixed), compile("deny", d, libraryPrefixed));
    }

    private static List<Pattern> compile(String field, List<String> globs, boolean libraryPrefixed) {
        List<Pattern> out = new ArrayList<>(globs.size());
        for (int i = 0; i < globs.size(); i++) {
            String problem = globProblem(globs.get(i), libraryPrefixed);
            if (problem != null) {
                throw new IllegalArgumentException(field + "[" + i + "]: " + problem);
            }
            out.add(toRegex(globs.get(i)));
        }
        return List.copyOf(out);
    }

    /**
     * Why {@code glob} can match no repository name, worded after the quoted glob, or null if
     * it can match one.
     *
     * @param libraryPrefixed see {@link #of}
     */
    public static String globProblem(String glob, boolean libraryPrefixed) {
        if (glob == null || glob.isEmpty()) {
            return "a glob must not be empty";
        }
        String at = "'" + glob + "' ";
        if (!GLOB_CHARS.matcher(glob).matches()) {
            return at + "can match no repository: names hold only lower-case letters, digits and . _ - /"
                    + " (with * and ** as wildcards)";
        }
        if (glob.length() > 255) {
            return at + "is longer than any repository name (255 characters)";
        }
        String[] segs = glob.split("/", -1);
        if (libraryPrefixed && segs.length == 1 && !glob.equals("**")) {
            return at + "can match no repository of Docker Hub, whose names have two segments at least:"
                    + " write library/" + glob + " for an official image";
        }
        for (String seg : segs) {
            if (seg.isEmpty()) {
                return at + "has an empty path segment (a leading, trailing or doubled /)";
            }
            if (seg.equals("**")) {
                continue;
            }
            if (seg.contains("**")) {
                return at + "has ** inside the segment '" + seg + "': ** stands for whole segments (a/**/b);"
                        + " within a segment use *";
            }
            // A letter is valid wherever a wildcard can stand in a component, so if this fails no
            // name can match the segment (it starts or ends with a separator, or doubles one).
            if (!COMPONENT.matcher(seg.replace("*", "a")).matches()) {
                return at + "can match no repository: the segment '" + seg + "' does not fit the name grammar"
                        + " (lower-case letters and digits separated by single . _ or -, or __)";
            }
        }
        return null;
    }

    private static Pattern toRegex(String glob) {
        String[] segs = glob.split("/", -1);
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < segs.length; i++) {
            boolean last = i == segs.length - 1;
            if (segs[i].equals("**")) {
                // Zero or more whole segments with their slashes; as the last segment, one or more.
                re.append(last ? "[^/]+(?:/[^/]+)*" : "(?:[^/]+/)*");
                continue;
            }
            for (char c : segs[i].toCharArray()) {
                re.append(c == '*' ? "[^/]*" : c == '.' ? "\\." : String.valueOf(c));
            }
            if (!last) {
                re.append('/');
            }
        }
        return Pattern.compile(re.toString());
    }

    /** Whether no rule is set: every repository allowed. */
    public boolean isEmpty() {
        return allow.isEmpty() && deny.isEmpty();
    }

    /** The allow globs as written; empty: every repository not denied. */
    public List<String> allow() {
        return allow;
    }

    /** The deny globs as written. */
    public List<String> deny() {
        return deny;
    }

    /**
     * Why {@code repository} (its path at the upstream) is refused, naming the rule
     * ({@code "matches deny rule 'bitnami/private-*'"}), or null when it is allowed.
     */
    public String refusal(String repository) {
        for (int i = 0; i < deny.size(); i++) {
            if (denyPatterns.get(i).matcher(repository).matches()) {
                return "matches deny rule '" + deny.get(i) + "'";
            }
        }
        if (allow.isEmpty()) {
            return null;
        }
        for (Pattern p : allowPatterns) {
            if (p.matcher(repository).matches()) {
                return null;
            }
        }
        return "matches no allow rule (allow: " + String.join(", ", allow) + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RepoRules r && allow.equals(r.allow) && deny.equals(r.deny);
    }

    @Override
    public int hashCode() {
        return allow.hashCode() * 31 + deny.hashCode();
    }

    @Override
    public String toString() {
        return "allow=" + (allow.isEmpty() ? "all" : allow) + (deny.isEmpty() ? "" : " deny=" + deny);
    }
}
