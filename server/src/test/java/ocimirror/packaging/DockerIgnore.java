package ocimirror.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A {@code .dockerignore} with Docker's matching rules (moby/patternmatcher): patterns are
 * relative to the context root, {@code *} and {@code ?} stay within a path segment, {@code **}
 * crosses them, a pattern that matches a directory matches everything under it, {@code !}
 * re-includes, and the last matching pattern decides.
 */
final class DockerIgnore {
    private record Rule(String text, Pattern pattern, boolean exclude) {
    }

    private final List<Rule> rules;

    private DockerIgnore(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    static DockerIgnore read(Path file) {
        List<Rule> rules = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file)) {
                String p = line.trim();
                if (p.isEmpty() || p.startsWith("#")) {
                    continue;
                }
                boolean exclude = !p.startsWith("!");
                if (!exclude) {
                    p = p.substring(1).trim();
                }
                p = p.replaceAll("^/+", "").replaceAll("/+$", "");
                rules.add(new Rule(line.trim(), Pattern.compile(regex(p)), exclude));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new DockerIgnore(rules);
    }

    /** Whether {@code path} ('/'-separated, relative to the context root) is left out of the context. */
    boolean excludes(String path) {
        boolean excluded = false;
        for (Rule r : rules) {
            if (matchesOrParent(r.pattern(), path)) {
                excluded = r.exclude();
            }
        }
        return excluded;
    }

    private static boolean matchesOrParent(Pattern p, String path) {
        String[] parts = path.split("/");
        StringBuilder prefix = new StringBuilder();
        for (String part : parts) {
            if (prefix.length() > 0) {
                prefix.append('/');
            }
            prefix.append(part);
            if (p.matcher(prefix).matches()) {
                return true;
            }
        }
        return false;
    }

    private static String regex(String pattern) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            if (c == '*' && i + 1 < pattern.length() && pattern.charAt(i + 1) == '*') {
                i++;
                if (i + 1 < pattern.length() && pattern.charAt(i + 1) == '/') {
                    i++;
                    re.append("(?:.*/)?"); // "**/" also matches no directory at all
                } else {
                    re.append(".*");
                }
            } else if (c == '*') {
                re.append("[^/]*");
            } else if (c == '?') {
                re.append("[^/]");
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return re.toString();
    }
}
