package ocimirror.storage.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DefaultAwsCredentialsTest {
    @TempDir
    Path home;

    private Path writeCredentials(String text) throws IOException {
        Path file = home.resolve(".aws/credentials");
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
        return file;
    }

    @Test
    void environmentComesFirst() throws IOException {
        writeCredentials("[default]\naws_access_key_id = FILE\naws_secret_access_key = file-secret\n");
        AwsCredentials c = new DefaultAwsCredentials(Map.of("AWS_ACCESS_KEY_ID", "ENV",
                "AWS_SECRET_ACCESS_KEY", "env-secret", "AWS_SESSION_TOKEN", "tok"), home).credentials();
        assertEquals(new AwsCredentials("ENV", "env-secret", "tok"), c);
    }

    @Test
    void sharedFileProfileIsRereadWhenItChanges() throws IOException {
        Path file = writeCredentials("""
                # comment
                [default]
                aws_access_key_id = DEF
                aws_secret_access_key = def-secret

                [mirror]
                aws_access_key_id=MIRROR
                aws_secret_access_key=mirror-secret
                aws_session_token=session
                """);
        DefaultAwsCredentials chain = new DefaultAwsCredentials(Map.of("AWS_PROFILE", "mirror"), home);
        assertEquals(new AwsCredentials("MIRROR", "mirror-secret", "session"), chain.credentials());
        assertEquals(new AwsCredentials("DEF", "def-secret", null), new DefaultAwsCredentials(Map.of(), home).credentials());

        Files.writeString(file, "[mirror]\naws_access_key_id=ROTATED\naws_secret_access_key=new-secret\n");
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(5)));
        assertEquals(new AwsCredentials("ROTATED", "new-secret", null), chain.credentials());
    }

    @Test
    void fileNamedByTheEnvironment() throws IOException {
        Path other = home.resolve("elsewhere");
        Files.writeString(other, "[default]\naws_access_key_id=OTHER\naws_secret_access_key=s\n");
        assertEquals("OTHER", new DefaultAwsCredentials(
                Map.of("AWS_SHARED_CREDENTIALS_FILE", other.toString()), home).credentials().accessKeyId());
    }

    @Test
    void noneFoundSaysWhereItLooked() {
        IOException e = assertThrows(IOException.class, () -> new DefaultAwsCredentials(Map.of(), home).credentials());
        assertTrue(e.getMessage().contains(home.resolve(".aws/credentials").toString()), e.getMessage());
    }

    @Test
    void secretsNeverPrinted() {
        String s = new AwsCredentials("AKID", "very-secret", "very-token").toString();
        assertFalse(s.contains("very-secret") || s.contains("very-token"), s);
    }
}
