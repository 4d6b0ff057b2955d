package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code config check} describes a credential helper without running it (doctor runs it). */
class ConfigCheckHelperTest {
    @TempDir
    Path dir;

    @Test
    void theHelperAndItsLifetimeArePrintedAndItIsNotRun() throws Exception {
        Path helper = dir.resolve("docker-credential-x");
        Files.writeString(helper, "#!/bin/sh\ntouch " + dir.resolve("ran") + "\nexit 1\n");
        Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwx------"));
        Path file = Files.writeString(dir.resolve("mirror.yaml"), "upstreams:\n  - name: a\n"
                + "    url: https://registry.test\n    credentials: {helper: " + helper + ", lifetime: 90m}\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, Main.run(new PrintWriter(out, true), new PrintWriter(err, true), "config", "check",
                file.toString()), err.toString());
        assertTrue(out.toString().contains(" credentials=helper " + helper + ", lifetime 1h30m "), out.toString());
        assertFalse(Files.exists(dir.resolve("ran")), "not run");
    }
}
