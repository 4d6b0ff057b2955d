package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RegistryCredentialsTest {

    @TempDir
    Path dir;

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    @Test
    void readsAuthAndUsernamePasswordEntries() throws IOException {
        Path f = write("config.json", """
                {"auths": {
                  "registry-a.test:5000": {"auth": "%s"},
                  "https://ghcr.io": {"username": "bob", "password": "p:w"},
                  "https://index.docker.io/v1/": {"auth": "%s", "email": "x@y"}
                }}""".formatted(b64("alice:s3cret"), b64("hub:tok")));
        DockerConfigFile cfg = DockerConfigFile.read(f);

        assertEquals(Optional.of(new RegistryCredentials("alice", "s3cret")), cfg.lookup("registry-a.test:5000"));
        assertEquals(Optional.of(new RegistryCredentials("bob", "p:w")), cfg.lookup("ghcr.io"));
        // Docker Hub's config key is the old index URL; the upstream talks to registry-1.docker.io.
        assertEquals(Optional.of(new RegistryCredentials("hub", "tok")), cfg.lookup("registry-1.docker.io"));
        assertEquals(Optional.of(new RegistryCredentials("hub", "tok")), cfg.lookup("docker.io"));
        assertEquals(Optional.empty(), cfg.lookup("registry-a.test"), "the port is part of the key");
        assertEquals(Optional.empty(), cfg.lookup("quay.io"));
        assertEquals(List.of("registry-a.test:5000", "ghcr.io", "docker.io"), cfg.registries());
    }

    @Test
    void readsKubernetesDockerConfigJsonAndLegacyDockercfg() {
        // The decoded .dockerconfigjson of `kubectl create secret docker-registry`.
        String secret = "{\"auths\":{\"quay.io\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\""
                + b64("u:p") + "\"}}}";
        assertEquals(Optional.of(new RegistryCredentials("u", "p")),
                DockerConfigFile.parse(secret, "secret").lookup("quay.io"));
        String legacy = "{\"https://quay.io\":{\"auth\":\"" + b64("old:pw") + "\",\"email\":\"\"}}";
        assertEquals(Optional.of(new RegistryCredentials("old", "pw")),
                DockerConfigFile.parse(legacy, "dockercfg").lookup("quay.io"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"auths\": {\"h\": {\"auth\": \"!!!\"}}}                 | h | not valid base64",
            "{\"auths\": {\"h\": {\"auth\": \"dXNlcg==\"}}}            | h | base64 of user:password",
            "{\"auths\": {\"h\": {\"username\": \"u\"}}}               | h | both \"username\" and \"password\"",
            "{\"auths\": {\"h\": {}}}                                  | h | neither \"auth\" nor",
            "{\"auths\": {\"h\": {}}, \"credsStore\": \"desktop\"}    | h | credential helper 'desktop'",
            "{\"auths\": {\"h\": {\"identitytoken\": \"x\"}}}          | h | identity/registry token",
            "{\"auths\": {\"h\": \"x\"}}                                | h | must be an object",
    })
    void badEntryErrorsNameTheFileAndTheEntry(String json, String entry, String why) throws IOException {
        Path f = write("bad.json", json);
        DockerConfigFile cfg = DockerConfigFile.read(f);
        CredentialsException e = assertThrows(CredentialsException.class, () -> cfg.lookup("h"));
        assertTrue(e.getMessage().startsWith(f + ": auths entry '" + entry + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void badEntryDoesNotBreakOtherEntries() {
        DockerConfigFile cfg = DockerConfigFile.parse(
                "{\"auths\": {\"bad\": {}, \"good\": {\"auth\": \"" + b64("a:b") + "\"}}}", "f");
        assertEquals(Optional.of(new RegistryCredentials("a", "b")), cfg.lookup("good"));
        assertThrows(CredentialsException.class, () -> cfg.lookup("bad"));
    }

    @Test
    void malformedFilesNameTheFile() throws IOException {
        Path notJson = write("broken.json", "{\"auths\": {\n  \"h\": ");
        CredentialsException e = assertThrows(CredentialsException.class, () -> DockerConfigFile.read(notJson));
        assertTrue(e.getMessage().startsWith(notJson + ": not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());

        Path array = write("array.json", "[]");
        e = assertThrows(CredentialsException.class, () -> DockerConfigFile.read(array));
        assertTrue(e.getMessage().startsWith(array.toString()), e.getMessage());

        Path missing = dir.resolve("missing.json");
        e = assertThrows(CredentialsException.class, () -> DockerConfigFile.read(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({
            "https://index.docker.io/v1/, docker.io",
            "registry.hub.docker.com, docker.io",
            "HTTPS://Registry-A.test:443/v2/, registry-a.test",
            "http://127.0.0.1:5000, 127.0.0.1:5000",
            "127.0.0.1:5000/, 127.0.0.1:5000",
            "gcr.io:443, gcr.io",
    })
    void normalizesRegistryKeys(String key, String expected) {
        assertEquals(expected, DockerConfigFile.normalize(key));
    }

    @Test
    void passwordFileDropsTrailingNewlinesOnly() throws IOException {
        assertEquals("pa ss", RegistryCredentials.fromPasswordFile("u", write("p1", "pa ss\n")).password());
        assertEquals(" pw", RegistryCredentials.fromPasswordFile("u", write("p2", " pw\r\n")).password());
        assertEquals("pw", RegistryCredentials.fromPasswordFile("u", write("p3", "pw")).password());

        Path empty = write("p4", "\n");
        CredentialsException e = assertThrows(CredentialsException.class,
                () -> RegistryCredentials.fromPasswordFile("u", empty));
        assertTrue(e.getMessage().contains(empty + " is empty"), e.getMessage());
        Path two = write("p5", "a\nb\n");
        e = assertThrows(CredentialsException.class, () -> RegistryCredentials.fromPasswordFile("u", two));
        assertTrue(e.getMessage().contains("more than one line"), e.getMessage());
        Path none = dir.resolve("none");
        e = assertThrows(CredentialsException.class, () -> RegistryCredentials.fromPasswordFile("u", none));
        assertTrue(e.getMessage().contains(none.toString()), e.getMessage());
    }

    @Test
    void resolvesEachSourceForTheUpstreamsAuthority() throws IOException {
        Path cfg = write("config.json", "{\"auths\": {\"reg.test:5000\": {\"auth\": \"" + b64("a:b") + "\"}}}");
        Path pw = write("pw", "secret\n");

        UpstreamConfig docker = UpstreamConfig.builder("a", "https://reg.test:5000")
                .credentials(new CredentialSource.DockerConfig(cfg)).build();
        assertEquals(Optional.of(new RegistryCredentials("a", "b")), RegistryCredentials.forUpstream(docker));

        UpstreamConfig file = UpstreamConfig.builder("b", "https://reg.test")
                .credentials(new CredentialSource.PasswordFile("robot", pw)).build();
        assertEquals(Optional.of(new RegistryCredentials("robot", "secret")), RegistryCredentials.forUpstream(file));

        assertEquals(Optional.empty(), RegistryCredentials.forUpstream(UpstreamConfig.builder("c", "https://x").build()));

        UpstreamConfig other = UpstreamConfig.builder("d", "https://reg.test:5001")
                .credentials(new CredentialSource.DockerConfig(cfg)).build();
        CredentialsException e = assertThrows(CredentialsException.class, () -> RegistryCredentials.forUpstream(other));
        assertTrue(e.getMessage().contains("upstream 'd'"), e.getMessage());
        assertTrue(e.getMessage().contains(cfg + ": no entry in \"auths\" for registry 'reg.test:5001'"), e.getMessage());
        assertTrue(e.getMessage().contains("entries: reg.test:5000"), e.getMessage());
    }

    @Test
    void toStringHidesThePassword() {
        String s = new RegistryCredentials("alice", "hunter2").toString();
        assertTrue(s.contains("alice"));
        assertFalse(s.contains("hunter2"), s);
    }
}
