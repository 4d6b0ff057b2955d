package ocimirror.e2e;

import java.net.URI;
import java.nio.file.Path;

/**
 * The registry the end-to-end tests talk to, on 127.0.0.1 and plain HTTP. The tests know
 * only its address, so the same suite can run against ocimirror (the default, in this JVM)
 * or, to compare behaviour, against CNCF distribution started as a separate program:
 * {@code -Docimirror.e2e.registry=distribution}.
 */
interface TargetRegistry extends AutoCloseable {

    /** {@code 127.0.0.1:PORT}, as it appears in image references. */
    String hostPort();

    /** A short name for messages: {@code ocimirror} or {@code distribution}. */
    String kind();

    default URI uri(String pathAndQuery) {
        return URI.create("http://" + hostPort() + pathAndQuery);
    }

    /** Stops the registry; its data directory is left for the test's {@code @TempDir} to remove. */
    @Override
    void close();

    /** Starts the registry selected by {@code ocimirror.e2e.registry} with its data under {@code dir}. */
    static TargetRegistry start(Path dir) throws Exception {
        String kind = System.getProperty("ocimirror.e2e.registry", "ocimirror");
        return switch (kind) {
            case "ocimirror" -> OcimirrorRegistry.start(dir);
            case "distribution" -> DistributionRegistry.start(dir);
            default -> throw new IllegalArgumentException("unknown ocimirror.e2e.registry: " + kind);
        };
    }
}
