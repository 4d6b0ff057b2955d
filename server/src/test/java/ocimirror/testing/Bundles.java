package ocimirror.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import com.fasterxml.jackson.databind.ObjectMapper;
import ocimirror.server.cli.Main;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;
import picocli.CommandLine;

/**
 * Image bundles as vendors ship them, written in the test: an OCI layout directory as a tar
 * (plain, gzip, xz; {@code index.json} last, as some producers write it), and a {@code docker
 * save} archive in the format before Docker 25 (no daemon runs here). Also runs the
 * {@code ocimirror} command line in-process.
 */
public final class Bundles {
    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Packing { TAR, TAR_GZ, TAR_XZ }

    private Bundles() {
    }

    /** Tars the layout directory {@code dir} into {@code out}, compressed as asked; {@code index.json} last. */
    public static Path tar(Path dir, Path out, Packing packing) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = new ArrayList<>(s.filter(Files::isRegularFile).sorted(Comparator.comparing(
                    (Path p) -> p.getFileName().toString().equals("index.json")).thenComparing(Path::toString)).toList());
        }
        try (OutputStream file = Files.newOutputStream(out);
             OutputStream z = switch (packing) {
                 case TAR -> file;
                 case TAR_GZ -> new GzipCompressorOutputStream(file);
                 case TAR_XZ -> new XZCompressorOutputStream(file, 1);
             };
             TarArchiveOutputStream tar = new TarArchiveOutputStream(z)) {
            for (Path f : files) {
                String name = dir.relativize(f).toString();
                if (name.startsWith(".") || name.contains("/.tmp")) {
                    continue;
                }
                TarArchiveEntry e = new TarArchiveEntry("./" + name);
                e.setSize(Files.size(f));
                tar.putArchiveEntry(e);
                Files.copy(f, tar);
                tar.closeArchiveEntry();
            }
        }
        return out;
    }

    /** The names of a (plain or gzip'd) tar's files, and their bytes. */
    public static Map<String, byte[]> read(Path tarFile) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (InputStream raw = Files.newInputStream(tarFile);
             InputStream in = tarFile.toString().endsWith(".gz") ? new GzipCompressorInputStream(raw) : raw;
             TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                if (e.isFile()) {
                    out.put(e.getName(), tar.readAllBytes());
                }
            }
        }
        return out;
    }

    /** One image of a {@link DockerSave}: its tag, config and the uncompressed layer tars (their digests are the diff_ids). */
    public record SavedImage(String repoTag, byte[] config, String configDigest, List<byte[]> layers,
                             List<String> diffIds) {
    }

    /** A docker save archive: its file and the images in it. */
    public record DockerSave(Path file, List<SavedImage> images) {
    }

    /**
     * Writes a docker save archive in the pre-25 format with two images, {@code repo:1} (layers
     * A, B) and {@code repo:2} (layers A, C); image 2's copy of layer A is a symbolic link to
     * image 1's, as {@code docker save} writes shared layers.
     */
    public static DockerSave dockerSave(Path out, String repo, long seed) throws IOException {
        Random random = new Random(seed);
        byte[] a = layerTar("a.bin", random, 3000);
        byte[] b = layerTar("b.bin", random, 5000);
        byte[] c = layerTar("c.bin", random, 7000);
        SavedImage one = saved(repo + ":1", "amd64", List.of(a, b));
        SavedImage two = saved(repo + ":2", "amd64", List.of(a, c));
        String idA = hexOf("id-a" + seed);
        String idB = hexOf("id-b" + seed);
        String idA2 = hexOf("id-a2" + seed);
        String idC = hexOf("id-c" + seed);
        List<Map<String, Object>> manifest = List.of(
                Map.of("Config", hex(one.configDigest()) + ".json", "RepoTags", List.of(one.repoTag()),
                        "Layers", List.of(idA + "/layer.tar", idB + "/layer.tar")),
                Map.of("Config", hex(two.configDigest()) + ".json", "RepoTags", List.of(two.repoTag()),
                        "Layers", List.of(idA2 + "/layer.tar", idC + "/layer.tar")));
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(out))) {
            for (String[] layer : new String[][] {{idA, "a"}, {idB, "b"}, {idC, "c"}}) {
                byte[] bytes = switch (layer[1]) {
                    case "a" -> a;
                    case "b" -> b;
                    default -> c;
                };
                file(tar, layer[0] + "/VERSION", "1.0".getBytes(StandardCharsets.UTF_8));
                file(tar, layer[0] + "/json", ("{\"id\":\"" + layer[0] + "\"}").getBytes(StandardCharsets.UTF_8));
                file(tar, layer[0] + "/layer.tar", bytes);
            }
            TarArchiveEntry link = new TarArchiveEntry(idA2 + "/layer.tar", TarArchiveEntry.LF_SYMLINK);
            link.setLinkName("../" + idA + "/layer.tar");
            tar.putArchiveEntry(link);
            tar.closeArchiveEntry();
            file(tar, hex(one.configDigest()) + ".json", one.config());
            file(tar, hex(two.configDigest()) + ".json", two.config());
            file(tar, "manifest.json", JSON.writeValueAsBytes(manifest));
            file(tar, "repositories", JSON.writeValueAsBytes(Map.of(repo, Map.of("1", idB, "2", idC))));
        }
        return new DockerSave(out, List.of(one, two));
    }

    private static SavedImage saved(String tag, String arch, List<byte[]> layers) throws IOException {
        List<String> diffIds = layers.stream().map(OciLayoutBuilder::sha256Digest).toList();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", arch);
        config.put("os", "linux");
        config.put("config", Map.of("Env", List.of("PATH=/usr/bin:/bin"), "Labels", Map.of("tag", tag)));
        config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
        byte[] bytes = JSON.writeValueAsBytes(config);
        return new SavedImage(tag, bytes, OciLayoutBuilder.sha256Digest(bytes), layers, diffIds);
    }

    private static byte[] layerTar(String name, Random random, int size) throws IOException {
        byte[] content = new byte[size];
        random.nextBytes(content);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            TarArchiveEntry e = new TarArchiveEntry("data/" + name);
            e.setSize(size);
            e.setModTime(0);
            tar.putArchiveEntry(e);
            tar.write(content);
            tar.closeArchiveEntry();
        }
        return out.toByteArray();
    }

    private static void file(TarArchiveOutputStream tar, String name, byte[] bytes) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(bytes.length);
        tar.putArchiveEntry(e);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static String hex(String digest) {
        return digest.substring("sha256:".length());
    }

    private static String hexOf(String s) {
        return hex(OciLayoutBuilder.sha256Digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    /** The outcome of a command line run in-process. */
    public record Cli(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- out\n" + out + "--- err\n" + err;
        }
    }

    /** Runs {@code ocimirror ARGS} in this JVM (no terminal: progress comes as plain lines on err). */
    public static Cli ocimirror(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute(args);
        return new Cli(exit, out.toString(), err.toString());
    }
}
