package ocimirror.server.registry;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link ManifestParser#parse}, run on every manifest pushed and every manifest pull-through
 * caches (Jackson tree, strict duplicate detection, every descriptor's digest validated), on an
 * OCI image manifest of about 2 KiB: a config, nine gzip layers, two annotations. In
 * {@code ocimirror.server.registry} because the parser is package-private.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// bin/ocimirror's heap, collector and direct memory
@Fork(value = 1, jvmArgsAppend = {"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=128m"})
public class ManifestParseBench {
    static final int LAYERS = 9; // 1.9 KiB in all

    private final ManifestParser parser = new ManifestParser();
    private byte[] body;

    @Setup
    public void setUp() {
        StringBuilder json = new StringBuilder();
        json.append("{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"").append(MediaTypes.OCI_MANIFEST).append("\",\n");
        json.append("  \"config\": ").append(descriptor("application/vnd.oci.image.config.v1+json", 0, 7_943))
                .append(",\n  \"layers\": [\n");
        for (int i = 1; i <= LAYERS; i++) {
            json.append("    ").append(descriptor("application/vnd.oci.image.layer.v1.tar+gzip", i, 1_000_000L * i + 4_217))
                    .append(i < LAYERS ? ",\n" : "\n");
        }
        json.append("  ],\n  \"annotations\": {\n")
                .append("    \"org.opencontainers.image.created\": \"2026-11-02T17:31:48Z\",\n")
                .append("    \"org.opencontainers.image.source\": \"https://github.com/nginx/docker-nginx\"\n  }\n}\n");
        body = json.toString().getBytes(StandardCharsets.UTF_8);
        ManifestParser.Parsed parsed = parser.parse(body, MediaTypes.OCI_MANIFEST);
        if (parsed.blobs().size() != LAYERS + 1) {
            throw new IllegalStateException("the fixture should reference " + (LAYERS + 1) + " blobs: " + parsed);
        }
    }

    private static String descriptor(String mediaType, int seed, long size) {
        Digest d = Digest.sha256(("blob " + seed).getBytes(StandardCharsets.UTF_8));
        return "{\"mediaType\": \"" + mediaType + "\", \"digest\": \"" + d + "\", \"size\": " + size + "}";
    }

    @Benchmark
    public ManifestParser.Parsed parse() {
        return parser.parse(body, MediaTypes.OCI_MANIFEST);
    }
}
