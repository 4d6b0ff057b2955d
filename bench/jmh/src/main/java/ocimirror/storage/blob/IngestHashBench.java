package ocimirror.storage.blob;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Hashing on blob ingest: every byte of a push or a pull-through download is sha256-hashed by
 * {@link FsBlobWriter#write} as it goes to disk, on the storage executor. The input arrives as
 * the HTTP codecs cut it, 64 KiB chunks ({@code MirrorChannelInitializer.MAX_CHUNK} for uploads,
 * {@code HttpTransport}'s decoder for downloads). One op hashes {@code mib} MiB; the report turns
 * ops/s into MiB/s and sets it beside {@code sha256sum} on the same CPU.
 *
 * <ul>
 * <li>{@link #sha256Direct}: exactly what the writer does with a chunk (hash a duplicate of it),
 *     on direct buffers as Netty's pooled allocator hands them over (uploads).</li>
 * <li>{@link #sha256Heap}: the same on heap buffers (a multi-component download batch is
 *     merged into one). {@code MessageDigest} copies a direct buffer through a small array first;
 *     the two rows show what that costs.</li>
 * <li>{@link #fsBlobWriter}: the real {@link FsBlobStore#newWriter} writer, file writes included
 *     (into the page cache; the writer is aborted rather than committed, so no fsync): how much of
 *     ingest is hashing.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// bin/ocimirror's heap, collector and direct memory
@Fork(value = 1, jvmArgsAppend = {"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=128m"})
public class IngestHashBench {
    static final int CHUNK = 64 * 1024;

    @Param({"1", "64"})
    public int mib;

    private ByteBuffer[] direct;
    private ByteBuffer[] heap;
    private Path dir;
    private FsBlobStore store;

    @Setup
    public void setUp() throws IOException {
        byte[] bytes = new byte[mib << 20];
        new SplittableRandom(42).nextBytes(bytes); // incompressible, like a gzip layer
        ByteBuffer all = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        direct = chunks(all);
        heap = chunks(ByteBuffer.wrap(bytes));
        dir = Files.createTempDirectory("ocimirror-jmh-");
        store = FsBlobStore.open(dir);
    }

    @TearDown
    public void tearDown() throws IOException {
        store.close();
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static ByteBuffer[] chunks(ByteBuffer all) {
        ByteBuffer[] out = new ByteBuffer[all.remaining() / CHUNK];
        for (int i = 0; i < out.length; i++) {
            out[i] = all.slice(i * CHUNK, CHUNK);
        }
        return out;
    }

    @Benchmark
    public Digest sha256Direct() {
        return hash(direct);
    }

    @Benchmark
    public Digest sha256Heap() {
        return hash(heap);
    }

    @Benchmark
    public long fsBlobWriter() throws IOException {
        BlobWriter writer = store.newWriter(Digest.Algorithm.SHA256);
        try {
            for (ByteBuffer chunk : direct) {
                writer.write(chunk.duplicate());
            }
            return writer.size();
        } finally {
            writer.abort();
        }
    }

    // FsBlobWriter.write and .digest, without the file.
    private static Digest hash(ByteBuffer[] chunks) {
        MessageDigest sha256 = Digest.Algorithm.SHA256.newMessageDigest();
        for (ByteBuffer chunk : chunks) {
            sha256.update(chunk.duplicate());
        }
        return Digest.fromHash(Digest.Algorithm.SHA256, sha256.digest());
    }
}
