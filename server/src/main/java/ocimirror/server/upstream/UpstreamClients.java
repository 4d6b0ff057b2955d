package ocimirror.server.upstream;

import io.netty.channel.EventLoopGroup;
import java.time.Clock;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import ocimirror.config.CredentialsException;
import ocimirror.config.UpstreamConfig;

/**
 * One {@link UpstreamClient} per configured upstream, by name, sharing one event loop group
 * (a {@link FailoverUpstreamClient} for an upstream with several URLs).
 * Credentials are read when this is created, so a missing or malformed credentials file
 * fails start-up with the upstream and the file named, not the first pull.
 */
public final class UpstreamClients implements AutoCloseable {

    private final Map<String, UpstreamClient> byName;
    private final List<UpstreamLimiter> limiters;

    private UpstreamClients(Map<String, UpstreamClient> byName, List<UpstreamLimiter> limiters) {
        this.byName = byName;
        this.limiters = limiters;
    }

    /**
     * @throws CredentialsException if an upstream's credentials cannot be read
     * @throws IllegalArgumentException if two upstreams share a name or a caCert is unusable
     */
    public static UpstreamClients create(Collection<UpstreamConfig> upstreams, EventLoopGroup group, Clock clock,
                                         UpstreamClientOptions options) {
        return create(upstreams, group, clock, options, ForkJoinPool.commonPool());
    }

    /**
     * @param blocking where credential helpers run (they start a process and wait for it); a
     *                 helper is first run when an upstream request needs credentials, not here
     */
    public static UpstreamClients create(Collection<UpstreamConfig> upstreams, EventLoopGroup group, Clock clock,
                                         UpstreamClientOptions options, Executor blocking) {
        Objects.requireNonNull(group, "group");
        Map<String, UpstreamClient> clients = new LinkedHashMap<>();
        try {
            for (UpstreamConfig u : upstreams) {
                if (clients.containsKey(u.name())) {
                    throw new IllegalArgumentException("two upstreams are named '" + u.name() + "'");
                }
                if (u.urls().size() > 1) {
                    try {
                        clients.put(u.name(), FailoverUpstreamClient.create(u, group, clock, options, blocking));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("upstream '" + u.name() + "': " + e.getMessage(), e);
                    }
                    continue;
                }
                UpstreamCredentials creds = UpstreamCredentials.of(u, blocking, clock);
                try {
                    clients.put(u.name(), new NettyUpstreamClient(u, creds, group, clock, options));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("upstream '" + u.name() + "': " + e.getMessage(), e);
                }
            }
        } catch (RuntimeException e) {
            clients.values().forEach(UpstreamClient::close);
            throw e;
        }
        return new UpstreamClients(Map.copyOf(clients), clients.values().stream()
                .map(c -> c instanceof FailoverUpstreamClient f ? f.limiter() : ((NettyUpstreamClient) c).limiter())
                .toList());
    }

    /** Wraps clients built elsewhere (tests, or another implementation). */
    public static UpstreamClients of(Map<String, UpstreamClient> clients) {
        return new UpstreamClients(Map.copyOf(clients), List.of());
    }

    /** The connection and bandwidth limiters of the clients {@link #create} built; none for {@link #of}. */
    public List<UpstreamLimiter> limiters() {
        return limiters;
    }

    public Optional<UpstreamClient> get(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    public Collection<UpstreamClient> all() {
        return byName.values();
    }

    @Override
    public void close() {
        byName.values().forEach(UpstreamClient::close);
    }
}
