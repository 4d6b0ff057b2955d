package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * Every command's {@code --help}, rendered at 80 columns, fits them and reads as paragraphs that
 * picocli wrapped: a description is one string per paragraph, not lines broken by hand, which
 * picocli would wrap again into a long line, a short one and a long one.
 */
class UsageHelpTest {
    private static final int WIDTH = 80;

    /** The whole command tree, each command's usage rendered at {@link #WIDTH} columns, without colours. */
    static Stream<CommandLine> commands() {
        CommandLine root = new CommandLine(new Main());
        // Applies to the subcommands too; picocli.usage.width (a system property) would override it.
        root.setUsageHelpAutoWidth(false);
        root.setUsageHelpWidth(WIDTH);
        List<CommandLine> all = new ArrayList<>();
        collect(root, all);
        return all.stream();
    }

    private static void collect(CommandLine c, List<CommandLine> out) {
        out.add(c);
        c.getSubcommands().values().stream().distinct().forEach(s -> collect(s, out));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("commands")
    void fitsEightyColumnsAndWrapsParagraphsOnce(CommandLine command) {
        assertEquals(WIDTH, command.getCommandSpec().usageMessage().width(), "render width (picocli.usage.width set?)");
        String help = command.getUsageMessage(CommandLine.Help.Ansi.OFF);
        String name = command.getCommandSpec().qualifiedName();
        List<String> problems = problems(help);
        for (String line : command.getCommandSpec().usageMessage().footer()) {
            // Examples are laid out by hand: picocli would wrap a long one at any space.
            if (line.length() > WIDTH) {
                problems.add("footer line longer than " + WIDTH + " columns (continue it with \\): " + line);
            }
        }
        assertTrue(problems.isEmpty(), name + " --help:\n" + String.join("\n", problems) + "\n\n" + help);
    }

    @Test
    void everyCommandIsRendered() {
        List<String> names = commands().map(c -> c.getCommandSpec().qualifiedName()).toList();
        assertTrue(names.containsAll(List.of("ocimirror", "ocimirror serve", "ocimirror import", "ocimirror doctor",
                "ocimirror ca export", "ocimirror pin add")), names.toString());
    }

    @Test
    void aParagraphBrokenByHandIsFound() {
        String ragged = """
                Loads images from an OCI image layout (a directory, or a tar: plain, .tar.gz,
                .tar.xz) or a
                docker save tar into the mirror's data directory.
                """;
        assertTrue(problems(ragged).get(0).contains("\"docker\" fits"), problems(ragged).toString());
        String column = " ".repeat(21);
        String option = "  --upstream=ALIAS   Upstream (alias or name) whose cache the images\n"
                + column + "seed\n"
                + column + "as if pulled.\n";
        assertTrue(problems(option).get(0).contains("\"seed\" fits"), problems(option).toString());
        String wrapped = "Loads images from an OCI image layout (a directory, or a tar: plain, .tar.gz,\n"
                + ".tar.xz) or a docker save tar into the mirror's data directory.\n"
                + "Exit status 0 when nothing failed.\n"
                + "  --upstream=ALIAS   Upstream (alias or name) whose cache the images seed as if\n"
                + column + "pulled.\n"
                + "  --name=REPO        Name for the image.\n"
                + "Examples:\n"
                + "  ocimirror import app.tar --namespace local\n"
                + "  ocimirror import ./layout\n";
        assertTrue(problems(wrapped).isEmpty(), problems(wrapped).toString());
        assertFalse(problems("x".repeat(WIDTH + 1)).isEmpty());
    }

    /**
     * Lines longer than the width, and hand-made breaks: a line followed, in the same column, by
     * one whose first word would have fitted on it (picocli fills a line to one column short of
     * the width), unless the line ends a sentence (. : ; ? !),
     * continues a shell command (\), is the synopsis, or the next line starts an example
     * ("ocimirror ...").
     */
    static List<String> problems(String help) {
        List<String> problems = new ArrayList<>();
        String[] lines = help.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String a = lines[i];
            if (a.length() > WIDTH) {
                problems.add("longer than " + WIDTH + " columns: " + a);
            }
            if (i + 1 == lines.length || a.isBlank() || lines[i + 1].isBlank()) {
                continue;
            }
            String b = lines[i + 1];
            int column = indent(b);
            boolean sameColumn = column == 0 ? indent(a) == 0
                    : a.length() > column && a.charAt(column - 1) == ' ' && a.charAt(column) != ' ';
            String next = b.strip();
            String firstWord = next.split(" ", 2)[0];
            String end = a.stripTrailing();
            boolean endsSomething = end.matches(".*[.:;?!\\\\]$");
            // The synopsis ends where the description begins, without a blank line.
            if (sameColumn && !endsSomething && !a.startsWith("Usage: ") && !next.startsWith("ocimirror ")
                    && end.length() + 1 + firstWord.length() < WIDTH) {
                problems.add("broken by hand (\"" + firstWord + "\" fits on the line before): " + end);
            }
        }
        return problems;
    }

    private static int indent(String s) {
        int i = 0;
        while (i < s.length() && s.charAt(i) == ' ') {
            i++;
        }
        return i;
    }
}
