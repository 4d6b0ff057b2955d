package ocimirror.server.route;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import ocimirror.config.MirrorConfig;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Request routing, run once per request on the event loop before anything else: the URI parse
 * ({@link OciRouteParser#parseRequest}: escapes, segments, repository name, reference or digest,
 * {@code ns}) and the choice of hosted or upstream repository ({@link UpstreamRouter#resolve})
 * under the configuration {@code serve} runs without {@code --config}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// bin/ocimirror's heap, collector and direct memory
@Fork(value = 1, jvmArgsAppend = {"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=128m"})
public class RouteBench {
    private static final String DIGEST = Digest.sha256("a layer".getBytes(StandardCharsets.UTF_8)).toString();

    // Two states, so that each benchmark runs only over its own parameter.
    @State(Scope.Benchmark)
    public static class Uris {
        /** What clients send most: Docker/skopeo by tag and by digest, containerd with ?ns=, a deep name. */
        @Param({"manifest-tag", "manifest-digest", "blob", "manifest-ns", "deep-blob"})
        public String path;

        final OciRouteParser parser = new OciRouteParser();
        String uri;

        @Setup
        public void setUp() {
            uri = switch (path) {
                case "manifest-tag" -> "/v2/library/nginx/manifests/1.27.3-alpine";
                case "manifest-digest" -> "/v2/library/nginx/manifests/" + DIGEST;
                case "blob" -> "/v2/library/nginx/blobs/" + DIGEST;
                case "manifest-ns" -> "/v2/library/nginx/manifests/1.27.3-alpine?ns=docker.io";
                case "deep-blob" -> "/v2/registry.k8s.io/sig-storage/csi-node-driver-registrar/amd64/blobs/" + DIGEST;
                default -> throw new IllegalArgumentException(path);
            };
        }
    }

    @State(Scope.Benchmark)
    public static class Names {
        /** How a client names the repository: containerd's ns, a registry path prefix, Docker's default upstream. */
        @Param({"ns", "prefix", "default"})
        public String naming;

        UpstreamRouter router;
        RepoName repo;
        String ns;

        @Setup
        public void setUp() {
            MirrorConfig config = MirrorConfig.embedded();
            router = new UpstreamRouter(config.upstreams(), config.hosted());
            switch (naming) {
                case "ns" -> {
                    repo = RepoName.of("library/nginx");
                    ns = "docker.io";
                }
                case "prefix" -> repo = RepoName.of("gcr.io/distroless/static-debian12");
                case "default" -> repo = RepoName.of("nginx");
                default -> throw new IllegalArgumentException(naming);
            }
        }
    }

    @Benchmark
    public OciRouteParser.ParsedRequest parseRequest(Uris s) {
        return s.parser.parseRequest(s.uri);
    }

    @Benchmark
    public RepoTarget resolve(Names s) {
        return s.router.resolve(s.repo, s.ns);
    }
}
