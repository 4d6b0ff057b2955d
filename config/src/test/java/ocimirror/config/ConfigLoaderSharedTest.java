package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderSharedTest {
    private static final String S3 = "storage: {s3: {endpoint: 'http://127.0.0.1:9000', bucket: mirror, pathStyle: true}}";
    private static final String PG = "metadata: {postgres: {url: 'jdbc:postgresql://db:5432/mirror', user: ocimirror,"
            + " passwordFile: pg.pw}}";

    @TempDir
    Path dir;

    @BeforeEach
    void password() throws Exception {
        Files.writeString(dir.resolve("pg.pw"), "secret\n");
    }

    @Test
    void withoutEitherSectionASingleNode() throws Exception {
        assertNull(load("storage: {deleteEnabled: false}").shared());
        assertNull(MirrorConfig.defaults().shared());
        assertNull(MirrorConfig.embedded().shared());
    }

    @Test
    void readsBothHalvesWithTheirDefaults() throws Exception {
        SharedBackends s = load(S3 + "\n" + PG).shared();
        assertEquals(new SharedBackends.S3(URI.create("http://127.0.0.1:9000"), "us-east-1", "mirror", "", true), s.s3());
        assertEquals(new SharedBackends.Postgres("jdbc:postgresql://db:5432/mirror", "ocimirror",
                dir.resolve("pg.pw"), 10), s.postgres());
        assertEquals(50L << 30, s.tierMaxBytes());
    }

    @Test
    void readsEveryKey() throws Exception {
        SharedBackends s = load("storage:\n  deleteEnabled: false\n  tierMaxSize: 2GiB\n  s3:\n"
                + "    endpoint: https://s3.eu-west-1.amazonaws.com\n    region: eu-west-1\n    bucket: my.mirror\n"
                + "    prefix: team/cache/\n    pathStyle: false\n"
                + "metadata:\n  postgres:\n    url: jdbc:postgresql://db/m?sslmode=verify-full\n    user: u\n"
                + "    passwordFile: pg.pw\n    maxConnections: 4\n").shared();
        assertEquals(new SharedBackends.S3(URI.create("https://s3.eu-west-1.amazonaws.com"), "eu-west-1", "my.mirror",
                "team/cache/", false), s.s3());
        assertEquals(4, s.postgres().maxConnections());
        assertEquals("jdbc:postgresql://db/m?...", s.postgres().redactedUrl());
        assertEquals(2L << 30, s.tierMaxBytes());
    }

    @Test
    void theWithersCarryItAlong() throws Exception {
        MirrorConfig c = load(S3 + "\n" + PG);
        assertEquals(c.shared(), c.withTls(TlsConfig.off()).withDataDir(Path.of("/tmp/x")).shared());
        assertNull(c.withShared(null).shared());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "S3|metadata.postgres: missing",
            "PG|storage.s3: missing",
            "storage: {tierMaxSize: 1GiB}|storage.tierMaxSize: only with storage.s3",
            "storage: {tierMaxSize: 0, s3: {endpoint: 'http://h', bucket: mirror}}\\nPG|storage.tierMaxSize: must be positive",
            "storage: {tierMaxSize: lots, s3: {endpoint: 'http://h', bucket: mirror}}\\nPG|storage.tierMaxSize: ",
            "storage: {s3: {bucket: mirror}}\\nPG|storage.s3.endpoint: missing",
            "storage: {s3: {endpoint: 'http://h:9000/bucket', bucket: mirror}}\\nPG|storage.s3.endpoint: must be http(s)://host[:port]",
            "storage: {s3: {endpoint: 'ftp://h', bucket: mirror}}\\nPG|storage.s3.endpoint: must be http(s)://host[:port]",
            "storage: {s3: {endpoint: 'http://h', bucket: My_Bucket}}\\nPG|storage.s3.bucket: 'My_Bucket' is not a DNS-compatible",
            "storage: {s3: {endpoint: 'http://h'}}\\nPG|storage.s3.bucket: missing",
            "storage: {s3: {endpoint: 'http://h', bucket: mirror, prefix: /abs/}}\\nPG|storage.s3.prefix: '/abs/' must be",
            "storage: {s3: {endpoint: 'http://h', bucket: mirror, prefix: no-slash}}\\nPG|storage.s3.prefix: 'no-slash' must be",
            "storage: {s3: {endpoint: 'http://h', bucket: mirror, prefix: a/../}}\\nPG|storage.s3.prefix: 'a/../' must be",
            "storage: {s3: {endpoint: 'http://h', bucket: mirror, region: EU West}}\\nPG|storage.s3.region: 'EU West' is not",
            "storage: {s3: {endpoint: 'http://h', bucket: mirror, key: x}}\\nPG|storage.s3.key: unknown field",
            "S3\\nmetadata: {postgres: {url: 'postgres://db/m', user: u, passwordFile: pg.pw}}|metadata.postgres.url: must start with jdbc:postgresql://",
            "S3\\nmetadata: {postgres: {url: 'jdbc:postgresql://db/m?password=hunter2', user: u, passwordFile: pg.pw}}|metadata.postgres.url: must not carry a password",
            "S3\\nmetadata: {postgres: {url: 'jdbc:postgresql://db/m', passwordFile: pg.pw}}|metadata.postgres.user: missing",
            "S3\\nmetadata: {postgres: {url: 'jdbc:postgresql://db/m', user: u}}|metadata.postgres.passwordFile: missing",
            "S3\\nmetadata: {postgres: {url: 'jdbc:postgresql://db/m', user: u, passwordFile: nope}}|metadata.postgres.passwordFile: ",
            "S3\\nmetadata: {postgres: {url: 'jdbc:postgresql://db/m', user: u, passwordFile: pg.pw, maxConnections: 1}}|metadata.postgres.maxConnections: must be at least 2",
            "S3\\nmetadata: {mysql: {}}|metadata.mysql: unknown field (expected one of: postgres)"})
    void errorsNameTheFileAndField(String yaml, String message) throws Exception {
        String text = yaml.replace("\\n", "\n").replace("S3", S3).replace("PG", PG);
        Path file = Files.writeString(dir.resolve("bad.yaml"), text + "\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
        assertFalse(e.getMessage().contains("hunter2"), "a password never in a message: " + e.getMessage());
    }

    private MirrorConfig load(String yaml) throws Exception {
        return ConfigLoader.load(Files.writeString(dir.resolve("c.yaml"), yaml + "\n"));
    }
}
