package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.RepoName;

/**
 * A {@link PullThroughService} over a real {@link Storage} and one {@link ScriptedUpstream}, as the
 * service's tests drive it; {@link #close} checks that the executor stops.
 */
final class ScriptedService implements AutoCloseable {
    final Storage storage;
    final ExecutorService executor;
    final PullThroughService service;

    private ScriptedService(Storage storage, ExecutorService executor, PullThroughService service) {
        this.storage = storage;
        this.executor = executor;
        this.service = service;
    }

    static ScriptedService open(Path dir, Clock clock, ScriptedUpstream upstream) throws IOException {
        Storage storage = Storage.open(dir, clock);
        ExecutorService executor = Executors.newFixedThreadPool(3);
        PullThroughService service = new PullThroughService(storage.blobs(), storage.metadata(),
                UpstreamClients.of(Map.of(upstream.name(), upstream)), executor, clock,
                new PullThroughService.Settings(false, Duration.ofSeconds(30), 4));
        return new ScriptedService(storage, executor, service);
    }

    /** {@code team/app} through {@code config}'s upstream, stored as {@code up/team/app}. */
    static RepoTarget.Proxied target(UpstreamConfig config) {
        return new RepoTarget.Proxied(config, RepoName.of("team/app"), RepoName.of("up/team/app"), null);
    }

    @Override
    public void close() throws InterruptedException {
        service.close();
        executor.shutdown();
        assertTrue(executor.awaitTermination(5, TimeUnit.SECONDS));
        storage.close();
    }
}
