package ocimirror.e2e;

import java.nio.file.Path;
import ocimirror.testing.DockerRegistry;

/**
 * CNCF distribution ({@code docker-registry} from Debian) as the registry under test: the
 * reference implementation the suite was first validated against. Plain HTTP, no auth,
 * delete enabled, listening on a free port of 127.0.0.1.
 */
final class DistributionRegistry implements TargetRegistry {

    private final DockerRegistry registry;

    private DistributionRegistry(DockerRegistry registry) {
        this.registry = registry;
    }

    static DistributionRegistry start(Path dir) throws Exception {
        return new DistributionRegistry(DockerRegistry.start(dir));
    }

    @Override
    public String hostPort() {
        return registry.hostPort();
    }

    @Override
    public String kind() {
        return "distribution";
    }

    @Override
    public void close() {
        registry.close();
    }
}
