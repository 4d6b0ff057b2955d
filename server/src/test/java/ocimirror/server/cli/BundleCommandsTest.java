package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.regex.Pattern;
import ocimirror.storage.Storage;
import ocimirror.testing.Bundles;
import ocimirror.testing.OciLayoutBuilder;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ocimirror import} and {@code export} as an operator runs them: a config file, no terminal. */
class BundleCommandsTest {
    @TempDir
    Path tmp;
    Path config;
    Path data;
    OciLayoutBuilder.Image image;
    Path bundle;

    @BeforeEach
    void setUp() throws Exception {
        data = tmp.resolve("data");
        config = Files.writeString(tmp.resolve("mirror.yaml"), String.join("\n",
                "data: " + data,
                "tls: {mode: off}",
                "upstreams:",
                "  - name: gcr.io",
                "    url: http://127.0.0.1:9",
                "    plainHttp: true",
                "    aliases: [gcr.io]",
                "hosted: [local]",
                ""));
        OciLayoutBuilder b = new OciLayoutBuilder(tmp.resolve("layout"), 11);
        image = b.image("linux", "amd64", List.of(b.randomLayer("a.bin", 200_000), b.randomLayer("b.bin", 100_000)));
        b.tag("gcr.io/team/app:1", image.manifest());
        b.finish();
        bundle = Bundles.tar(tmp.resolve("layout"), tmp.resolve("bundle.tar.xz"), Bundles.Packing.TAR_XZ);
    }

    @Test
    void importPrintsProgressLinesWhenNotOnATerminalAndWhatItImported() {
        Bundles.Cli r = Bundles.ocimirror("import", bundle.toString(), "--config", config.toString(),
                "--progress-interval", "0s");
        assertEquals(0, r.exit(), r.toString());
        Pattern line = Pattern.compile("import \\(reading bundle\\.tar\\.xz\\): [0-9.]+ (B|KiB|MiB) / [0-9.]+ KiB"
                + " \\(\\d{1,3}%\\), [0-9.]+ (B|KiB|MiB|GiB)/s(, ETA \\d+s)?");
        List<String> progress = r.err().lines().filter(l -> line.matcher(l).matches()).toList();
        assertTrue(progress.size() >= 2, r.toString());
        assertTrue(r.err().lines().anyMatch(l -> l.matches("import \\(reading bundle\\.tar\\.xz\\): [0-9.]+ KiB in"
                + " \\d+s \\(.*/s\\)")), r.toString());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("import (storing): ")), r.toString());
        assertTrue(r.out().contains("imported gcr.io/team/app:1 as cache of upstream 'gcr.io' team/app:1 ("
                + image.manifest().digest() + ")"), r.toString());
        assertTrue(r.out().contains("import: 1 image, 3 blobs (3 new, "), r.toString());
    }

    @Test
    void exportWritesTheTarAndSaysWhatItHolds() throws Exception {
        assertEquals(0, Bundles.ocimirror("import", bundle.toString(), "--config", config.toString()).exit());
        Path out = tmp.resolve("out.tar");
        Bundles.Cli r = Bundles.ocimirror("export", "gcr.io/team/app:1", "-o", out.toString(), "--config",
                config.toString(), "--progress-interval", "1h");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("exported gcr.io/team/app:1 (" + image.manifest().digest() + ", "
                + OciLayoutBuilder.OCI_MANIFEST + ")"), r.toString());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("export (export): ") && l.contains(" in ")), r.toString());
        assertTrue(Bundles.read(out).containsKey("blobs/sha256/" + image.layers().get(0).blob().digest().substring(7)));
    }

    @Test
    void aRunningServersDataDirectoryIsRefusedWithWhatToDo() throws Exception {
        try (Storage running = Storage.open(data, Clock.systemUTC())) {
            Bundles.Cli r = Bundles.ocimirror("import", bundle.toString(), "--config", config.toString());
            assertEquals(1, r.exit(), r.toString());
            assertTrue(r.err().contains("is in use by a running ocimirror (it holds the lock on meta/): stop the server"
                    + " or run this on another data directory"), r.toString());
            Bundles.Cli e = Bundles.ocimirror("export", "gcr.io/team/app:1", "-o", tmp.resolve("x.tar").toString(),
                    "--config", config.toString());
            assertEquals(1, e.exit(), e.toString());
            assertTrue(e.err().contains("stop the server"), e.toString());
        }
    }

    @Test
    void usageErrorsExitWith2BeforeTouchingAnything() {
        Bundles.Cli ns = Bundles.ocimirror("import", bundle.toString(), "--config", config.toString(),
                "--namespace", "team");
        assertEquals(2, ns.exit(), ns.toString());
        assertTrue(ns.err().contains("--namespace team is not a hosted namespace"), ns.toString());
        Bundles.Cli both = Bundles.ocimirror("import", bundle.toString(), "--namespace", "local", "--upstream", "gcr.io");
        assertEquals(2, both.exit(), both.toString());
        Bundles.Cli platform = Bundles.ocimirror("export", "x", "-o", "x.tar", "--platform", "amd64");
        assertEquals(2, platform.exit(), platform.toString());
        assertTrue(platform.err().contains("expected os/arch"), platform.toString());
        Bundles.Cli absent = Bundles.ocimirror("import", tmp.resolve("nothing.tar").toString(), "--data",
                data.toString());
        assertEquals(2, absent.exit(), absent.toString());
        assertTrue(Files.notExists(data), "nothing was opened");
    }

    @Test
    void configCheckShowsThePrefetchList() throws Exception {
        Path withList = Files.writeString(tmp.resolve("prefetch.yaml"), Files.readString(config)
                + "pullThrough:\n  prefetch: [gcr.io/team/app:1, gcr.io/team/tool:2]\n");
        Bundles.Cli r = Bundles.ocimirror("config", "check", withList.toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("pullThrough: prefetchLayers=true negativeCacheTtl=30s"
                + " prefetch=gcr.io/team/app:1,gcr.io/team/tool:2"), r.toString());
    }

    @Test
    void helpListsTheBundleCommands() {
        Bundles.Cli r = Bundles.ocimirror("--help");
        for (String c : List.of("import", "export", "prefetch")) {
            assertTrue(r.out().contains(c), r.toString());
        }
        Bundles.Cli i = Bundles.ocimirror("import", "--help");
        assertTrue(i.out().contains("--upstream") && i.out().contains("--namespace") && i.out().contains("--name"),
                i.toString());
    }
}
