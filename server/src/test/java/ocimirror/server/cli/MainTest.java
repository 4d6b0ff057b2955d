package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    @TempDir
    Path dir;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    int run(String... args) {
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    @Test
    void helpListsTheServeCommand() {
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("serve"), out.toString());
        assertEquals(0, run("serve", "--help"));
        assertTrue(out.toString().contains("--listen"));
        assertTrue(out.toString().contains("--config"));
        assertTrue(out.toString().contains("--plain-http"));
        assertEquals(0, run("ca", "export", "--help"));
        assertTrue(out.toString().contains("--format"), out.toString());
    }

    @Test
    void badConfigFileExitsWith2AndNamesTheField() throws Exception {
        Path config = Files.writeString(dir.resolve("config.yaml"), "limits:\n  maxManifestBytes: lots\n");
        assertEquals(2, run("serve", "--config", config.toString(), "--data", dir.resolve("data").toString()));
        String message = err.toString();
        assertTrue(message.contains("config.yaml: limits.maxManifestBytes: expected an integer"), message);
        assertFalse(message.contains("\tat "), "no stack trace: " + message);
        assertFalse(Files.exists(dir.resolve("data")), "nothing is started on a bad config");
    }

    @Test
    void badListenExitsWith2() {
        assertEquals(2, run("serve", "--listen", "nowhere", "--data", dir.toString()));
        assertTrue(err.toString().contains("--listen: expected HOST:PORT"), err.toString());
    }

    @Test
    void missingConfigFileExitsWith2() {
        assertEquals(2, run("serve", "--config", dir.resolve("absent.yaml").toString()));
        assertTrue(err.toString().contains("absent.yaml: no such file"), err.toString());
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertEquals(2, run("serve", "--bogus"));
    }
}
