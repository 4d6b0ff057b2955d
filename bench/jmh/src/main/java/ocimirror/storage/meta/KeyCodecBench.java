package ocimirror.storage.meta;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What {@link RocksMetadataStore} and {@link RocksCache} do to every key and value around each
 * RocksDB call: {@link Keys} (UTF-8 joined with {@code \0}; the LRU key with its big-endian
 * time) and {@link Codec} (a format byte, then the fields through {@code DataOutputStream};
 * decoding re-validates digests). A manifest GET by tag decodes a tag and a manifest record and
 * builds both keys; a blob GET builds a blob key and an LRU key (access recording). This class
 * lives in {@code ocimirror.storage.meta} because both are package-private.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// bin/ocimirror's heap, collector and direct memory
@Fork(value = 1, jvmArgsAppend = {"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=128m"})
public class KeyCodecBench {
    private RepoName repo;
    private Digest digest;
    private TagRecord tag;
    private ManifestRecord manifest;
    private BlobRecord blob;
    private byte[] tagValue;
    private byte[] manifestValue;
    private byte[] blobValue;

    @Setup
    public void setUp() {
        repo = RepoName.of("docker.io/library/nginx");
        digest = Digest.sha256("a manifest".getBytes(StandardCharsets.UTF_8));
        long now = 1_795_000_000_000L;
        tag = new TagRecord(digest, MediaTypes.OCI_INDEX, 10_229, now, now);
        // An image manifest as pull-through records it: its config type and two common annotations.
        manifest = new ManifestRecord(digest, MediaTypes.OCI_MANIFEST, 2_013, null,
                "application/vnd.oci.image.config.v1+json",
                Map.of("org.opencontainers.image.created", "2026-11-02T17:31:48Z",
                        "org.opencontainers.image.source", "https://github.com/nginx/docker-nginx"));
        blob = new BlobRecord(Digest.sha256("a layer".getBytes(StandardCharsets.UTF_8)), 3_623_807,
                "application/vnd.oci.image.layer.v1.tar+gzip", now, now);
        tagValue = Codec.encode(tag);
        manifestValue = Codec.encode(manifest);
        blobValue = Codec.encode(blob);
    }

    @Benchmark
    public byte[] tagKey() {
        return Keys.tag(repo, "1.27.3-alpine");
    }

    @Benchmark
    public byte[] manifestKey() {
        return Keys.manifest(repo, digest);
    }

    @Benchmark
    public byte[] blobKey() {
        return Keys.blob(blob.digest());
    }

    @Benchmark
    public byte[] lruKey() {
        return Keys.lru(blob.lastAccess(), blob.digest());
    }

    @Benchmark
    public byte[] encodeTag() {
        return Codec.encode(tag);
    }

    @Benchmark
    public TagRecord decodeTag() {
        return Codec.decodeTag(tagValue);
    }

    @Benchmark
    public byte[] encodeManifest() {
        return Codec.encode(manifest);
    }

    @Benchmark
    public ManifestRecord decodeManifest() {
        return Codec.decodeManifest(manifestValue);
    }

    @Benchmark
    public byte[] encodeBlob() {
        return Codec.encode(blob);
    }

    @Benchmark
    public BlobRecord decodeBlob() {
        return Codec.decodeBlob(blobValue);
    }
}
