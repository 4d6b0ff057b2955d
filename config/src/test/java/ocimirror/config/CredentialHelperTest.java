package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Docker credential-helper protocol against real helper scripts, and where helpers are found. */
class CredentialHelperTest {
    static final String SECRET = "s3cr3t-Pa55";

    @TempDir
    Path dir;

    /** Writes {@code docker-credential-<name>} into {@code dir}, executable, running {@code body} for {@code get}. */
    static Path helper(Path dir, String name, String body) throws IOException {
        Path p = dir.resolve("docker-credential-" + name);
        Files.writeString(p, "#!/bin/sh\n[ \"$1\" = get ] || exit 9\n" + body + "\n");
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        return p;
    }

    private RegistryCredentials run(String body) throws IOException {
        return run(body, Duration.ofSeconds(10));
    }

    private RegistryCredentials run(String body, Duration timeout) throws IOException {
        Path p = helper(dir, "t", body);
        return CredentialHelper.get(new CredentialSource.Helper("t", p, Duration.ofMinutes(1)), "registry.test:5000",
                timeout);
    }

    @Test
    void theServerUrlGoesInAndTheAnswerComesOut() throws IOException {
        RegistryCredentials c = run("read url; echo \"$url\" > " + dir.resolve("asked") + "\n"
                + "echo '{\"ServerURL\":\"registry.test:5000\",\"Username\":\"AWS\",\"Secret\":\"" + SECRET + "\"}'");
        assertEquals(new RegistryCredentials("AWS", SECRET), c);
        assertEquals("registry.test:5000\n", Files.readString(dir.resolve("asked")));
    }

    @Test
    void aNonZeroExitNamesTheHelperAndStatusButNotItsOutput() throws IOException {
        CredentialsException e = assertThrows(CredentialsException.class, () -> run(
                "echo 'credentials not found: " + SECRET + "'; echo \"" + SECRET + "\" >&2; exit 3"));
        assertTrue(e.getMessage().contains("credential helper 't'") && e.getMessage().contains("exited with status 3"),
                e.getMessage());
        assertTrue(e.getMessage().contains("echo registry.test:5000 | " + dir.resolve("docker-credential-t") + " get"),
                e.getMessage());
        assertFalse(e.getMessage().contains(SECRET), e.getMessage());
    }

    @Test
    void outputThatIsNotTheProtocolsJsonIsRefusedWithoutQuotingIt() throws IOException {
        for (String out : new String[] {"Username=AWS Secret=" + SECRET, "[\"" + SECRET + "\"]",
                "{\"Username\":\"AWS\",\"Secret\":\"" + SECRET, "{\"Username\":\"AWS\"}", ""}) {
            CredentialsException e = assertThrows(CredentialsException.class, () -> run("printf '%s' '" + out + "'"));
            assertTrue(e.getMessage().contains("credential helper 't'"), e.getMessage());
            assertFalse(e.getMessage().contains(SECRET), e.getMessage());
            assertEquals(null, e.getCause(), "a parser's message would quote the output");
        }
    }

    @Test
    void anIdentityTokenIsRefusedClearly() {
        CredentialsException e = assertThrows(CredentialsException.class, () -> run(
                "echo '{\"Username\":\"<token>\",\"Secret\":\"" + SECRET + "\"}'"));
        assertTrue(e.getMessage().contains("identity token"), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET), e.getMessage());
    }

    @Test
    void aHelperThatHangsIsStoppedAtTheTimeout() {
        long start = System.nanoTime();
        CredentialsException e = assertThrows(CredentialsException.class, () -> run("sleep 30", Duration.ofMillis(300)));
        assertTrue(e.getMessage().contains("did not answer within 300 ms"), e.getMessage());
        assertTrue(System.nanoTime() - start < Duration.ofSeconds(10).toNanos(), "not waited for");
    }

    @Test
    void helpersAreFoundOnThePathOrByAbsolutePath() throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path p = helper(bin, "ecr-login", "exit 0");
        String path = dir.resolve("empty") + ":" + bin;
        assertEquals(Optional.of(p), CredentialHelper.locate("ecr-login", path));
        assertEquals(Optional.empty(), CredentialHelper.locate("gcloud", path));
        assertEquals(Optional.of(p), CredentialHelper.locate(p.toString(), ""));
        Files.writeString(bin.resolve("docker-credential-plain"), "not executable");
        assertEquals(Optional.empty(), CredentialHelper.locate("plain", path), "not executable");
        for (String bad : new String[] {"", "..", "a/b", "../ecr-login", "ecr login", "x;rm"}) {
            assertFalse(CredentialHelper.isValidName(bad), bad);
            assertEquals(Optional.empty(), CredentialHelper.locate(bad, path), bad);
        }
        assertTrue(CredentialHelper.isValidName("ecr-login") && CredentialHelper.isValidName("osxkeychain")
                && CredentialHelper.isValidName("v1.2_x"));
    }

    @Test
    void dockerHubGetsTheServerUrlDockerStoresItsCredentialsUnder() {
        assertEquals("https://index.docker.io/v1/",
                CredentialHelper.serverUrl(UpstreamConfig.builder("hub", "https://registry-1.docker.io").build()));
        assertEquals("registry.corp:5000",
                CredentialHelper.serverUrl(UpstreamConfig.builder("corp", "https://registry.corp:5000").build()));
    }
}
