package ocimirror.server.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServer;
import ocimirror.storage.Storage;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pin}, {@code gc} and {@code verify} through {@link Main}, on a data directory with no server running. */
class MaintenanceCommandsTest {
    private static final Clock LONG_AGO = Clock.fixed(Instant.parse("2020-01-01T00:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;
    Path data;
    Path config;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    @BeforeEach
    void files() throws Exception {
        data = dir.resolve("data");
        config = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - name: docker.io
                    url: https://registry-1.docker.io
                    aliases: [docker.io]
                    default: true
                  - name: corp
                    url: https://registry.corp:5000
                    aliases: [registry.corp:5000]
                hosted: [local]
                cache:
                  pins: [docker.io/library/busybox:1.36]
                """);
    }

    int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    @Test
    void pinAddListRemove() {
        assertEquals(0, run("pin", "add", "--data", data.toString(), "--config", config.toString(),
                "alpine:3.20", "registry.corp:5000/team/app:v1"));
        assertTrue(out.toString().contains("pinned alpine:3.20 (docker.io/library/alpine:3.20)"), out.toString());
        assertTrue(out.toString().contains("pinned registry.corp:5000/team/app:v1 (corp/team/app:v1)"), out.toString());
        assertEquals(0, run("pin", "add", "--data", data.toString(), "--config", config.toString(), "alpine:3.20"));
        assertTrue(out.toString().contains("already pinned"), out.toString());

        assertEquals(0, run("pin", "ls", "--data", data.toString(), "--config", config.toString()));
        assertEquals(List.of("docker.io/library/busybox:1.36\tconfig", "alpine:3.20\tdata",
                "registry.corp:5000/team/app:v1\tdata"), out.toString().lines().toList());

        assertEquals(0, run("pin", "rm", "--data", data.toString(), "--config", config.toString(), "alpine:3.20"));
        assertEquals(1, run("pin", "rm", "--data", data.toString(), "--config", config.toString(),
                "docker.io/library/busybox:1.36"));
        assertTrue(err.toString().contains("it is in the config file's cache.pins"), err.toString());
        assertEquals(0, run("pin", "ls", "--data", data.toString(), "--config", config.toString()));
        assertFalse(out.toString().contains("alpine"), out.toString());
    }

    @Test
    void pinsTheServerCouldNotRouteAreRefused() {
        assertEquals(2, run("pin", "add", "--data", data.toString(), "--config", config.toString(), "Not/An:Image!"));
        assertTrue(err.toString().contains("is not an image reference"), err.toString());
        assertEquals(2, run("pin", "add", "--data", data.toString(), "--config", config.toString(),
                "quay.io/coreos/etcd:v3"));
        assertTrue(err.toString().contains("names no upstream"), err.toString());
    }

    @Test
    void gcDeletesWhatNoManifestReferencesAfterTheGracePeriod() throws Exception {
        byte[] bytes = "uploaded but never referenced".getBytes(UTF_8);
        Digest d = Digest.sha256(bytes);
        Path file;
        try (Storage s = Storage.open(data, LONG_AGO)) {
            file = s.blobs().put(bytes, d).path();
            s.metadata().putBlob(new BlobRecord(d, bytes.length, null, LONG_AGO.millis(), LONG_AGO.millis()));
            s.metadata().linkBlob(RepoName.of("local/app"), d);
        }
        assertEquals(0, run("gc", "--data", data.toString(), "--config", config.toString()));
        assertTrue(out.toString().contains("1 unreferenced link(s) removed, 1 blob(s) deleted"), out.toString());
        assertFalse(Files.exists(file));
    }

    @Test
    void verifyReportsCorruptionRepairsItAndIsCleanAfterwards() throws Exception {
        byte[] good = "good".getBytes(UTF_8);
        byte[] bad = "bad".getBytes(UTF_8);
        Path badFile;
        try (Storage s = Storage.open(data, Clock.systemUTC())) {
            for (byte[] b : List.of(good, bad)) {
                Digest d = Digest.sha256(b);
                s.blobs().put(b, d);
                s.metadata().putBlob(new BlobRecord(d, b.length, null, 1, 1));
                s.metadata().linkBlob(RepoName.of("local/app"), d);
            }
            badFile = s.blobs().stat(Digest.sha256(bad)).orElseThrow().path();
        }
        assertEquals(0, run("verify", "--data", data.toString(), "--config", config.toString()));
        assertTrue(out.toString().contains("2 blobs (7 B) re-hashed; 0 problem(s): consistent"), out.toString());

        Files.write(badFile, "BAD".getBytes(UTF_8));
        assertEquals(1, run("verify", "--data", data.toString(), "--config", config.toString()));
        assertTrue(out.toString().contains("CORRUPT_BLOB " + Digest.sha256(bad)), out.toString());
        assertTrue(Files.exists(badFile), "no repair without --repair");

        assertEquals(0, run("verify", "--repair", "--data", data.toString(), "--config", config.toString()));
        assertTrue(out.toString().contains("(repaired)"), out.toString());
        assertFalse(Files.exists(badFile));
        assertEquals(0, run("verify", "--data", data.toString(), "--config", config.toString()));
        assertTrue(out.toString().contains("consistent"), out.toString());
    }

    @Test
    void refusesToRunBesideAServer() throws Exception {
        MirrorConfig cfg = MirrorConfig.defaults().withDataDir(data).withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withTls(TlsConfig.off());
        try (MirrorServer server = MirrorServer.start(cfg)) {
            assertEquals(1, run("verify", "--data", data.toString()));
            assertTrue(err.toString().contains("is in use (is the server running? stop it first)"), err.toString());
            assertEquals(1, run("pin", "ls", "--data", data.toString()));
            assertEquals(1, run("gc", "--data", data.toString()));
        }
    }

    @Test
    void aBrokenConfigurationIsAConfigErrorNamingTheFile() throws Exception {
        Path broken = Files.writeString(dir.resolve("broken.yaml"), "upstreams: [{name: x}]\n");
        for (List<String> cmd : List.of(List.of("gc"), List.of("verify"), List.of("pin", "ls"))) {
            List<String> args = new ArrayList<>(cmd);
            args.addAll(List.of("--data", data.toString(), "--config", broken.toString()));
            assertEquals(Main.EXIT_CONFIG, run(args.toArray(String[]::new)), cmd + ": " + err);
            assertTrue(err.toString().startsWith("ocimirror: "), cmd + ": " + err);
            assertTrue(err.toString().contains("broken.yaml"), cmd + ": " + err);
            assertFalse(Files.exists(data), cmd + " opened the data directory");
        }
    }
}
