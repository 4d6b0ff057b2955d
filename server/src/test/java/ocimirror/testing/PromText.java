package ocimirror.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Prometheus text-format scrape, parsed: every sample with its name, labels and value.
 * Comment lines ({@code # HELP}, {@code # TYPE}) are skipped.
 */
public final class PromText {

    public record Sample(String name, Map<String, String> labels, double value) {
    }

    private final List<Sample> samples;

    private PromText(List<Sample> samples) {
        this.samples = samples;
    }

    public static PromText parse(String text) {
        List<Sample> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int i = 0;
            while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
                i++;
            }
            String name = line.substring(0, i);
            Map<String, String> labels = new LinkedHashMap<>();
            if (i < line.length() && line.charAt(i) == '{') {
                i++;
                while (line.charAt(i) != '}') {
                    int eq = line.indexOf('=', i);
                    String key = line.substring(i, eq).trim();
                    StringBuilder v = new StringBuilder();
                    int j = eq + 2; // past ="
                    for (; line.charAt(j) != '"'; j++) {
                        char c = line.charAt(j);
                        if (c == '\\') {
                            char n = line.charAt(++j);
                            v.append(n == 'n' ? '\n' : n);
                        } else {
                            v.append(c);
                        }
                    }
                    labels.put(key, v.toString());
                    i = j + 1;
                    if (line.charAt(i) == ',') {
                        i++;
                    }
                }
                i++;
            }
            String[] rest = line.substring(i).trim().split(" ");
            out.add(new Sample(name, labels, Double.parseDouble(rest[0])));
        }
        return new PromText(out);
    }

    public List<Sample> samples() {
        return samples;
    }

    /** Every sample name. */
    public Set<String> names() {
        Set<String> names = new TreeSet<>();
        samples.forEach(s -> names.add(s.name()));
        return names;
    }

    /**
     * The sum of the samples named {@code name} whose labels include every pair of
     * {@code labels} (given as key, value, key, value...); 0 if there is none.
     */
    public double sum(String name, String... labels) {
        double total = 0;
        for (Sample s : samples) {
            if (s.name().equals(name) && matches(s, labels)) {
                total += s.value();
            }
        }
        return total;
    }

    /** The one sample named {@code name} with these labels (a subset); fails if there is not exactly one. */
    public double value(String name, String... labels) {
        List<Sample> found = samples.stream().filter(s -> s.name().equals(name) && matches(s, labels)).toList();
        if (found.size() != 1) {
            throw new AssertionError(found.size() + " samples " + name + " " + String.join(",", labels) + ": " + found);
        }
        return found.get(0).value();
    }

    private static boolean matches(Sample s, String... labels) {
        for (int k = 0; k + 1 < labels.length; k += 2) {
            if (!labels[k + 1].equals(s.labels().get(labels[k]))) {
                return false;
            }
        }
        return true;
    }
}
