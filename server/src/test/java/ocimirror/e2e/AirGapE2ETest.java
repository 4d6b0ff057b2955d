package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import ocimirror.config.ConfigLoader;
import ocimirror.server.MirrorServer;
import ocimirror.testing.Bundles;
import ocimirror.testing.Containerd;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Processes;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * An air-gapped site: bundles imported with {@code ocimirror import} while the server is stopped
 * (an OCI layout .tar.xz into gcr.io's cache, a docker save tar as named, a layout into the
 * hosted namespace), then the server started with gcr.io unreachable (its port is closed), and
 * a node (containerd, through hosts.toml) and skopeo pull what was imported.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AirGapE2ETest {
    static final String SNAPSHOTTER = "native";

    Path tmp;
    OciLayoutBuilder.ImageIndex multi;
    OciLayoutBuilder.Image tool;
    Bundles.DockerSave save;
    MirrorServer mirror;
    Containerd containerd;
    Path hosts;
    String mirrorHostPort;

    @BeforeAll
    void importThenStart(@TempDir Path dir) throws Exception {
        tmp = dir;
        Programs.require("skopeo");
        Path vendor = tmp.resolve("vendor");
        OciLayoutBuilder b = new OciLayoutBuilder(vendor, 31);
        OciLayoutBuilder.Image amd = b.image("linux", "amd64", List.of(b.randomLayer("amd.bin", 300_000),
                b.randomLayer("amd2.bin", 1000)));
        OciLayoutBuilder.Image arm = b.image("linux", "arm64", List.of(b.randomLayer("arm.bin", 200_000)));
        multi = b.index(List.of(amd, arm));
        b.tag("gcr.io/team/app:1", multi.index());
        b.finish();
        Path vendorTar = Bundles.tar(vendor, tmp.resolve("vendor-images.tar.xz"), Bundles.Packing.TAR_XZ);
        save = Bundles.dockerSave(tmp.resolve("legacy.tar"), "gcr.io/team/legacy", 32);
        Path own = tmp.resolve("own");
        OciLayoutBuilder o = new OciLayoutBuilder(own, 33);
        tool = o.image("linux", "amd64", List.of(o.randomLayer("tool.bin", 50_000)));
        o.tag("1", tool.manifest());
        o.finish();

        int closed = Programs.freePort(); // nothing listens there: gcr.io is "down" throughout
        Path config = Files.writeString(tmp.resolve("mirror.yaml"), String.join("\n",
                "listen: 127.0.0.1:0",
                "data: " + tmp.resolve("data"),
                "tls: {mode: off}",
                "upstreams:",
                "  - name: gcr.io",
                "    url: http://127.0.0.1:" + closed,
                "    plainHttp: true",
                "    aliases: [gcr.io]",
                "    tagTtl: 1s",
                "    timeouts: {connect: 2s}",
                "hosted: [local]",
                ""));
        for (List<String> args : List.of(
                List.of("import", vendorTar.toString(), "--upstream", "gcr.io"),
                List.of("import", save.file().toString()),
                List.of("import", own.toString(), "--namespace", "local", "--name", "team/tool"))) {
            List<String> all = new java.util.ArrayList<>(args);
            all.addAll(List.of("--config", config.toString()));
            Bundles.Cli r = Bundles.ocimirror(all.toArray(String[]::new));
            assertEquals(0, r.exit(), r.toString());
        }
        mirror = MirrorServer.start(ConfigLoader.load(config));
        mirrorHostPort = "127.0.0.1:" + mirror.localAddress().getPort();
        containerd = Containerd.start(tmp.resolve("containerd"), SNAPSHOTTER);
        hosts = tmp.resolve("hosts");
        Containerd.writeHostsToml(hosts, "gcr.io", "http://" + mirrorHostPort, Containerd.MirrorLayout.NAMESPACE,
                null, null);
        Thread.sleep(1100); // past the 1 s tag TTL: the seeded tags are served stale, the upstream being out
    }

    @AfterAll
    void stop() {
        if (containerd != null) {
            containerd.close();
        }
        if (mirror != null) {
            mirror.close();
        }
    }

    @Test
    void aNodePullsTheSeededIndexWithTheUpstreamDown() {
        String ref = "gcr.io/team/app:1";
        Processes.Result pull = containerd.pullWithHosts(hosts, "seeded", ref, "--platform", "linux/amd64",
                "--print-chainid");
        assertEquals(0, pull.exitCode(), () -> "ctr pull failed:\n" + pull.stderr() + "\n" + containerd.log());
        OciLayoutBuilder.Image amd = multi.byPlatform().get("linux/amd64");
        assertEquals(Optional.of(multi.index().digest()), containerd.imageTarget("seeded", ref),
                "the vendor's index digest, not a converted one");
        assertEquals(List.of(), containerd.missingContent("seeded", amd));
        assertTrue(pull.stdout().contains("image chain ID: " + amd.chainId()), pull.stdout());
    }

    @Test
    void aNodePullsAndUnpacksADockerSaveImageWithTheUpstreamDown() {
        Bundles.SavedImage image = save.images().get(1);
        String ref = image.repoTag();
        Processes.Result pull = containerd.pullWithHosts(hosts, "legacy", ref, "--print-chainid");
        assertEquals(0, pull.exitCode(), () -> "ctr pull failed:\n" + pull.stderr() + "\n" + containerd.log());
        String chain = image.diffIds().get(0);
        for (String diffId : image.diffIds().subList(1, image.diffIds().size())) {
            chain = OciLayoutBuilder.sha256Digest((chain + " " + diffId).getBytes(StandardCharsets.US_ASCII));
        }
        assertTrue(pull.stdout().contains("image chain ID: " + chain), "unpacked from the uncompressed layers:\n"
                + pull.stdout());
        assertTrue(containerd.contentDigests("legacy").containsAll(image.diffIds()));
    }

    @Test
    void skopeoCopiesTheHostedImportBackOut() throws Exception {
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        Path out = tmp.resolve("copied");
        skopeo.copy(Skopeo.docker(mirrorHostPort, "local/team/tool", "1"), Skopeo.oci(out, "1"),
                "--preserve-digests");
        JsonNode index = new ObjectMapper().readTree(out.resolve("index.json").toFile());
        assertEquals(tool.manifest().digest(), index.path("manifests").get(0).path("digest").asText());
        assertTrue(Files.exists(out.resolve("blobs/sha256/" + tool.layers().get(0).blob().digest().substring(7))));
    }
}
