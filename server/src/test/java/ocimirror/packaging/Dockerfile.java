package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A Dockerfile read as BuildKit reads it, as far as the packaging tests need: comment lines
 * dropped (inside continuations too), backslash continuations joined, one instruction per
 * logical line, stages split at {@code FROM}.
 */
final class Dockerfile {

    /** One instruction; {@code arguments} is everything after the keyword, continuations joined. */
    record Instruction(String keyword, String arguments, int line) {
        /** Whitespace-separated words of the arguments. */
        List<String> words() {
            return Arrays.asList(arguments.trim().split("\\s+"));
        }

        /** The words that are not {@code --options}. */
        List<String> operands() {
            return words().stream().filter(w -> !w.startsWith("--")).toList();
        }

        /** The value of {@code --name=value}, or null. */
        String option(String name) {
            return words().stream().filter(w -> w.startsWith("--" + name + "="))
                    .map(w -> w.substring(name.length() + 3)).findFirst().orElse(null);
        }

        /** The arguments (from {@code from} on) in exec form, a JSON array of strings. */
        List<String> execForm(int from) {
            String json = arguments.substring(from).trim();
            assertTrue(json.startsWith("["), () -> "line " + line + ": " + keyword + " is not in exec form: " + arguments);
            try {
                return DockerFolder.JSON.readValue(json, new TypeReference<List<String>>() {
                });
            } catch (IOException e) {
                throw new AssertionError("line " + line + ": " + keyword + " is not a JSON array: " + json, e);
            }
        }

        List<String> execForm() {
            return execForm(0);
        }
    }

    /** A build stage: its base image, its name ({@code AS name}, or null) and its instructions. */
    record Stage(String image, String name, List<Instruction> instructions) {
        List<Instruction> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
        }

        /** The one instruction with this keyword (the last one, as Docker uses the last CMD etc.). */
        Instruction last(String keyword) {
            List<Instruction> found = all(keyword);
            assertTrue(!found.isEmpty(), () -> "stage " + (name == null ? image : name) + " has no " + keyword);
            return found.get(found.size() - 1);
        }

        /** The working directory after the last WORKDIR (absolute paths only, as this Dockerfile uses). */
        String workdir() {
            return last("WORKDIR").arguments().trim();
        }
    }

    private final List<Stage> stages;

    private Dockerfile(List<Stage> stages) {
        this.stages = List.copyOf(stages);
    }

    static Dockerfile read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Instruction> instructions = new ArrayList<>();
        StringBuilder logical = null;
        int start = 0;
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n);
            String trimmed = line.trim();
            if (trimmed.startsWith("#") || (trimmed.isEmpty() && logical == null)) {
                continue; // comments and parser directives; comment lines inside a continuation too
            }
            if (logical == null) {
                logical = new StringBuilder();
                start = n + 1;
            }
            if (trimmed.endsWith("\\")) {
                logical.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            logical.append(trimmed);
            String text = logical.toString().trim();
            logical = null;
            if (text.isEmpty()) {
                continue;
            }
            int space = text.indexOf(' ');
            String keyword = (space < 0 ? text : text.substring(0, space)).toUpperCase(Locale.ROOT);
            instructions.add(new Instruction(keyword, space < 0 ? "" : text.substring(space + 1).trim(), start));
        }
        assertTrue(logical == null, file + " ends inside a line continuation");

        List<Stage> stages = new ArrayList<>();
        List<Instruction> current = null;
        String image = null;
        String name = null;
        for (Instruction i : instructions) {
            if (i.keyword().equals("FROM")) {
                if (current != null) {
                    stages.add(new Stage(image, name, current));
                }
                List<String> w = i.operands();
                image = w.get(0);
                name = w.size() == 3 && w.get(1).equalsIgnoreCase("AS") ? w.get(2) : null;
                current = new ArrayList<>();
            } else {
                assertTrue(current != null, () -> "line " + i.line() + ": " + i.keyword() + " before FROM");
                current.add(i);
            }
        }
        if (current != null) {
            stages.add(new Stage(image, name, current));
        }
        return new Dockerfile(stages);
    }

    List<Stage> stages() {
        return stages;
    }

    Stage stage(String name) {
        return stages.stream().filter(s -> name.equals(s.name())).findFirst()
                .orElseThrow(() -> new AssertionError("no stage named " + name));
    }

    /** The stage the image is made of: the last one. */
    Stage runtime() {
        assertEquals(false, stages.isEmpty(), "no FROM");
        return stages.get(stages.size() - 1);
    }
}
