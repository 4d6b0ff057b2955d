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
import ocimirror.storage.meta.MetadataStore;
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
        return open(dir, clock, upstream, false);
    }

    /**
     * @param mayBlock whether the metadata store says its reads may block (as the shared one on
     *                 PostgreSQL does), so that the service starts each request on its executor
     */
    static ScriptedService open(Path dir, Clock clock, ScriptedUpstream upstream, boolean mayBlock)
            throws IOException {
        Storage storage = Storage.open(dir, clock);
        ExecutorService executor = Executors.newFixedThreadPool(3);
        MetadataStore real = storage.metadata();
        MetadataStore metadata = !mayBlock ? real : (MetadataStore) java.lang.reflect.Proxy.newProxyInstance(
                MetadataStore.class.getClassLoader(), new Class<?>[] {MetadataStore.class}, (p, m, args) -> {
                    if (m.getName().equals("mayBlock")) {
                        return true;
                    }
                    try {
                        return m.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        PullThroughService service = new PullThroughService(storage.blobs(), metadata,
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
