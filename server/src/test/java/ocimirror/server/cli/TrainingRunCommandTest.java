package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** {@code training-run}: serves its push and pull, and leaves nothing behind. */
class TrainingRunCommandTest {

    @Test
    void servesAndStopsWithoutATrace() throws Exception {
        Set<Path> before = trainingDirs();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, Main.run(new PrintWriter(out, true), new PrintWriter(err, true), "training-run"), err.toString());
        assertEquals(before, trainingDirs(), "its temporary directory is deleted");
    }

    @Test
    void isNotListedInTheHelp() {
        StringWriter out = new StringWriter();
        assertEquals(0, Main.run(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true), "--help"));
        assertTrue(out.toString().contains("serve"), out.toString());
        assertFalse(out.toString().contains("training-run"), out.toString());
    }

    private static Set<Path> trainingDirs() throws Exception {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("ocimirror-training-")).collect(Collectors.toSet());
        }
    }
}
