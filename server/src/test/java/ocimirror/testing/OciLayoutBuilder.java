package ocimirror.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.Deflater;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;

/**
 * Writes an OCI image layout directory ({@code oci-layout}, {@code index.json},
 * {@code blobs/sha256/...}) that skopeo can read with {@code oci:DIR:REF}. Layers are gzip'd
 * tars of seeded random bytes, so they are identical on every run, do not compress (sizes
 * stay what was asked) and can be unpacked by containerd. Digests are computed here with
 * the JDK alone, independently of the server's own {@code Digest} code, so that the tests
 * compare the server against an outside oracle.
 */
public final class OciLayoutBuilder {

    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    private static final String REF_NAME = "org.opencontainers.image.ref.name";
    // A fixed time keeps tar headers, and with them every digest, the same on each run.
    private static final long EPOCH_MILLIS = 1_700_000_000_000L;

    private final Path dir;
    private final long seed;
    private final ObjectMapper json = new ObjectMapper();
    private final List<Map<String, Object>> refs = new ArrayList<>();

    /** A content-addressed file in the layout. */
    public record Blob(String digest, String mediaType, long size, Path file) {
        public byte[] bytes() {
            try {
                return Files.readAllBytes(file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public Map<String, Object> descriptor() {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("mediaType", mediaType);
            d.put("digest", digest);
            d.put("size", size);
            return d;
        }
    }

    /** A layer and the digest of its uncompressed tar (the config's diff_id). */
    public record Layer(Blob blob, String diffId, long payloadBytes) {
    }

    /** One platform's image: manifest, config and layers. */
    public record Image(String os, String architecture, Blob manifest, Blob config, List<Layer> layers) {
        public String platform() {
            return os + "/" + architecture;
        }

        /** Manifest, config and layers, in that order. */
        public List<Blob> blobs() {
            List<Blob> blobs = new ArrayList<>(List.of(manifest, config));
            layers.stream().map(Layer::blob).forEach(blobs::add);
            return blobs;
        }

        /**
         * The OCI chain ID: the first layer's diff_id, then sha256("parent child") for each next
         * one. containerd prints it after unpacking ({@code --print-chainid}), computed from the
         * tars it unpacked, so a match proves every layer arrived intact.
         */
        public String chainId() {
            String chain = null;
            for (Layer layer : layers) {
                chain = chain == null ? layer.diffId()
                        : sha256Digest((chain + " " + layer.diffId()).getBytes(StandardCharsets.US_ASCII));
            }
            return chain;
        }
    }

    /** A multi-platform image index and the images it lists, by {@code os/arch}. */
    public record ImageIndex(Blob index, Map<String, Image> byPlatform) {
        /** The index, then every image's blobs. */
        public List<Blob> blobs() {
            List<Blob> blobs = new ArrayList<>(List.of(index));
            byPlatform.values().forEach(i -> blobs.addAll(i.blobs()));
            return blobs;
        }
    }

    /** The standard fixture: {@code single} (1 KiB, 5 MiB, 40 MiB layers) and {@code multi}. */
    public record Fixture(Path dir, Image single, ImageIndex multi) {
        public static final String SINGLE_REF = "single";
        public static final String MULTI_REF = "multi";
    }

    public OciLayoutBuilder(Path dir, long seed) {
        this.dir = dir;
        this.seed = seed;
    }

    /**
     * Builds the fixture every e2e class uses: a single-platform linux/amd64 image with three
     * layers of about 1 KiB, 5 MiB and 40 MiB, and a linux/amd64 + linux/arm64 index with
     * small layers.
     */
    public static Fixture standard(Path dir) throws IOException {
        return standard(dir, 20240501L);
    }

    /** {@link #standard(Path)} with other random bytes: every digest differs for another seed. */
    public static Fixture standard(Path dir, long seed) throws IOException {
        OciLayoutBuilder b = new OciLayoutBuilder(dir, seed);
        Image single = b.image("linux", "amd64", List.of(
                b.randomLayer("small.bin", 1024),
                b.randomLayer("medium.bin", 5 * 1024 * 1024),
                b.randomLayer("large.bin", 40 * 1024 * 1024)));
        b.tag(Fixture.SINGLE_REF, single.manifest());
        Image amd = b.image("linux", "amd64", List.of(b.randomLayer("amd64.bin", 2048)));
        Image arm = b.image("linux", "arm64", List.of(b.randomLayer("arm64.bin", 3072)));
        ImageIndex multi = b.index(List.of(amd, arm));
        b.tag(Fixture.MULTI_REF, multi.index());
        b.finish();
        return new Fixture(dir, single, multi);
    }

    /** A gzip'd tar holding one file {@code payload/NAME} of {@code size} seeded random bytes. */
    public Layer randomLayer(String name, int size) throws IOException {
        Path tmp = Files.createDirectories(dir.resolve("blobs/sha256")).resolve(".tmp-" + name);
        MessageDigest compressed = sha256();
        MessageDigest uncompressed = sha256();
        GzipParameters gz = new GzipParameters();
        gz.setCompressionLevel(Deflater.NO_COMPRESSION); // random bytes do not shrink: stored blocks save the CPU
        gz.setModificationTime(0);
        SplittableRandom random = new SplittableRandom(seed ^ name.hashCode());
        try (OutputStream file = Files.newOutputStream(tmp);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(new DigestOutputStream(
                     new GzipCompressorOutputStream(new DigestOutputStream(file, compressed), gz), uncompressed))) {
            TarArchiveEntry dirEntry = new TarArchiveEntry("payload/");
            dirEntry.setModTime(EPOCH_MILLIS);
            tar.putArchiveEntry(dirEntry);
            tar.closeArchiveEntry();
            TarArchiveEntry entry = new TarArchiveEntry("payload/" + name);
            entry.setSize(size);
            entry.setMode(0644);
            entry.setModTime(EPOCH_MILLIS);
            tar.putArchiveEntry(entry);
            byte[] chunk = new byte[64 * 1024];
            for (int left = size; left > 0; left -= chunk.length) {
                fill(random, chunk);
                tar.write(chunk, 0, Math.min(left, chunk.length));
            }
            tar.closeArchiveEntry();
        }
        Blob blob = commit(tmp, hex(compressed), OCI_LAYER_GZIP);
        return new Layer(blob, "sha256:" + hex(uncompressed), size);
    }

    /** Writes the config and manifest of a one-platform image over {@code layers}. */
    public Image image(String os, String architecture, List<Layer> layers) throws IOException {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("created", "2023-11-14T22:13:20Z");
        config.put("architecture", architecture);
        config.put("os", os);
        config.put("config", Map.of("Env", List.of("PATH=/usr/bin:/bin")));
        Map<String, Object> rootfs = new LinkedHashMap<>();
        rootfs.put("type", "layers");
        rootfs.put("diff_ids", layers.stream().map(Layer::diffId).toList());
        config.put("rootfs", rootfs);
        Blob configBlob = writeJson(config, OCI_CONFIG);

        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", OCI_MANIFEST);
        manifest.put("config", configBlob.descriptor());
        manifest.put("layers", layers.stream().map(l -> l.blob().descriptor()).toList());
        return new Image(os, architecture, writeJson(manifest, OCI_MANIFEST), configBlob, List.copyOf(layers));
    }

    /** Writes an image index listing {@code images} with their platforms. */
    public ImageIndex index(List<Image> images) throws IOException {
        List<Map<String, Object>> manifests = new ArrayList<>();
        Map<String, Image> byPlatform = new LinkedHashMap<>();
        for (Image image : images) {
            Map<String, Object> d = image.manifest().descriptor();
            Map<String, Object> platform = new LinkedHashMap<>();
            platform.put("architecture", image.architecture());
            platform.put("os", image.os());
            d.put("platform", platform);
            manifests.add(d);
            byPlatform.put(image.platform(), image);
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        index.put("mediaType", OCI_INDEX);
        index.put("manifests", manifests);
        return new ImageIndex(writeJson(index, OCI_INDEX), byPlatform);
    }

    /** Names {@code target} {@code ref} in the layout's index.json (skopeo's {@code oci:DIR:ref}). */
    public void tag(String ref, Blob target) {
        Map<String, Object> d = target.descriptor();
        d.put("annotations", Map.of(REF_NAME, ref));
        refs.add(d);
    }

    /** Writes {@code oci-layout} and {@code index.json}. */
    public void finish() throws IOException {
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        index.put("manifests", refs);
        Files.write(dir.resolve("index.json"), json.writeValueAsBytes(index));
    }

    private Blob writeJson(Object value, String mediaType) throws IOException {
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IOException(e);
        }
        Path tmp = Files.createDirectories(dir.resolve("blobs/sha256")).resolve(".tmp-json");
        Files.write(tmp, bytes);
        return commit(tmp, sha256Hex(bytes), mediaType);
    }

    private Blob commit(Path tmp, String hex, String mediaType) throws IOException {
        Path target = dir.resolve("blobs/sha256").resolve(hex);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        return new Blob("sha256:" + hex, mediaType, Files.size(target), target);
    }

    /** Seeded random bytes, several times faster than {@code Random.nextBytes}. */
    private static void fill(SplittableRandom random, byte[] chunk) {
        for (int i = 0; i < chunk.length; i += 8) {
            long v = random.nextLong();
            for (int j = i; j < Math.min(i + 8, chunk.length); j++, v >>>= 8) {
                chunk[j] = (byte) v;
            }
        }
    }

    // --- digests computed with the JDK only ---

    public static String sha256Digest(byte[] bytes) {
        return "sha256:" + sha256Hex(bytes);
    }

    public static String sha256Digest(InputStream in) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[64 * 1024];
        for (int n; (n = in.read(buf)) > 0; ) {
            md.update(buf, 0, n);
        }
        return "sha256:" + hex(md);
    }

    public static String sha256Hex(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    public static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String hex(MessageDigest md) {
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
