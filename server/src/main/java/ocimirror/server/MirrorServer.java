package ocimirror.server;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.access.AuditLog;
import ocimirror.server.auth.HtpasswdAuthenticator;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.http.OpsEndpoints;
import ocimirror.server.http.PinEndpoints;
import ocimirror.server.metrics.CacheSizeProbe;
import ocimirror.server.metrics.MirrorMetrics;
import ocimirror.server.metrics.Observability;
import ocimirror.server.metrics.Readiness;
import ocimirror.server.pipeline.AdminChannelInitializer;
import ocimirror.server.cache.CacheMaintenance;
import ocimirror.server.drain.ConnectionDrain;
import ocimirror.server.pipeline.MirrorChannelInitializer;
import ocimirror.server.image.Platform;
import ocimirror.server.prefetch.StartupPrefetch;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.server.shared.Stores;
import ocimirror.server.tls.ServerTls;
import ocimirror.server.upstream.CredentialProbe;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.server.upstream.UpstreamClientOptions;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.server.warmup.Warmup;
import ocimirror.storage.Storage;
import ocimirror.storage.blob.TieredBlobStore;
import ocimirror.storage.meta.pg.CachedPgMetadataStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running registry: storage, the bounded storage executor, the upstream clients and the
 * pull-through service (only when upstreams are configured), TLS and client authentication (when
 * configured, see {@link Security}), the cache maintenance (eviction, hosted GC, pins: {@link #cache()})
 * and the Netty server, wired by hand. {@link #start} returns
 * once the socket listens; {@link #close} stops accepting, drains the connections (see below),
 * cancels the downloads in progress and closes the upstream clients, stops watching the
 * certificate and htpasswd files, lets queued storage work finish, and closes the storage last.
 *
 * <p>The drain ({@code shutdown.gracePeriod}, {@link ConnectionDrain}): once the listener is
 * closed, {@code /readyz} answers 503, idle connections are closed, and the requests in flight
 * (a node pulling a large layer, an upload, a wait for an upstream) get the grace period to
 * finish, each connection closing after its last response; what is still in flight then is cut.
 * A pull-through download that no client finished in time is abandoned like any other: its
 * ingest file is deleted, nothing is committed. The admin listener stays open until the drain
 * ends, so that probes and scrapes can see it. The waiting happens on the thread that calls
 * {@link #close} (the JVM's shutdown hook, for {@code serve}), never on an event loop.
 *
 * <p>One {@link MirrorMetrics} per server, handed to the pipeline, the upstream clients and the
 * pull-through service; the admin listener ({@code metrics.adminListen}) shares the event loops.
 * The size of {@code blobs/} is measured on the storage executor every
 * {@code metrics.cacheSizeInterval}, the first time a minute after start (or sooner with a
 * shorter interval).
 *
 * <p>The upstream clients get their own event loop group rather than sharing the server's
 * workers: shutdown can then close client connections first and upstream I/O after them, and
 * a burst of client connections does not delay the reads of the downloads they wait for.
 */
public final class MirrorServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MirrorServer.class);
    /** Idle upload sessions are looked for this often. */
    private static final long SWEEP_MINUTES = 5;
    private static final int STORAGE_QUEUE = 10_000;
    /** Password checks waiting for a thread; more are answered 503. */
    private static final int AUTH_QUEUE = 256;
    /** The first measurement of blobs/ after start, unless metrics.cacheSizeInterval is shorter. */
    private static final Duration CACHE_SIZE_FIRST = Duration.ofMinutes(1);
    /** How often the certificate and htpasswd files are checked for changes. */
    public static final Duration RELOAD_INTERVAL = ServerTls.DEFAULT_CHECK_INTERVAL;

    private final Storage storage;
    private final ThreadPoolExecutor storageExecutor;
    private final Upstreams upstreams;
    private final Security security;
    private final StartupPrefetch prefetch;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel serverChannel;
    private final Ops ops;
    private final CacheMaintenance cache;
    private final ConnectionDrain drain;
    private final Duration grace;
    private final MirrorConfig config;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Warmup warmup;

    private MirrorServer(Storage storage, ThreadPoolExecutor storageExecutor, Upstreams upstreams, Security security,
                         StartupPrefetch prefetch, EventLoopGroup boss, EventLoopGroup workers, Channel serverChannel,
                         Ops ops, CacheMaintenance cache, ConnectionDrain drain, MirrorConfig config) {
        this.storage = storage;
        this.storageExecutor = storageExecutor;
        this.upstreams = upstreams;
        this.security = security;
        this.prefetch = prefetch;
        this.boss = boss;
        this.workers = workers;
        this.serverChannel = serverChannel;
        this.ops = ops;
        this.cache = cache;
        this.drain = drain;
        this.grace = config.shutdown().gracePeriod();
        this.config = config;
    }

    /** The metrics, readiness and the admin listener (null when not configured). */
    private record Ops(MirrorMetrics metrics, Readiness readiness, Channel admin, AuditLog audit) {
    }

    /** The pull-through side: null parts when no upstream is configured. */
    private record Upstreams(EventLoopGroup group, UpstreamClients clients, PullThroughService pullThrough,
                             UpstreamAuthorization authorization) {

        static Upstreams none() {
            return new Upstreams(null, null, null, UpstreamAuthorization.none());
        }

        static Upstreams start(MirrorConfig config, Storage storage, ThreadPoolExecutor executor, Clock clock,
                               MirrorMetrics metrics) {
            if (config.upstreams().isEmpty()) {
                return none();
            }
            EventLoopGroup group = NettyUpstreamClient.newEventLoopGroup(Math.max(2, Runtime.getRuntime()
                    .availableProcessors()));
            try {
                UpstreamClients clients = metrics.meter(UpstreamClients.create(config.upstreams(), group, clock,
                        UpstreamClientOptions.defaults().withMaxManifestBytes(config.limits().maxManifestBytes())
                                .withResponseListener(metrics.rateLimitListener()), executor));
                PullThroughService pullThrough = new PullThroughService(storage.blobs(), storage.metadata(), clients,
                        executor, clock, new PullThroughService.Settings(config.pullThrough().prefetchLayers(),
                        config.pullThrough().negativeCacheTtl(), PullThroughService.Settings.defaults()
                        .prefetchParallelism(), config.pullThrough().prefetchPlatforms().stream()
                        .map(Platform::parse).toList()));
                metrics.monitor(pullThrough);
                UpstreamAuthorization authorization = authorization(config, group, clock);
                metrics.monitor(authorization);
                return new Upstreams(group, clients, pullThrough, authorization);
            } catch (RuntimeException e) {
                group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
                throw e;
            }
        }

        /** A probe per upstream with {@code authorization: upstream}, asked with clients' own credentials. */
        private static UpstreamAuthorization authorization(MirrorConfig config, EventLoopGroup group, Clock clock) {
            Map<String, CredentialProbe> probes = new HashMap<>();
            for (UpstreamConfig u : config.upstreams()) {
                if (u.authorization().upstream()) {
                    probes.put(u.name(), new CredentialProbe(u, group, clock, UpstreamClientOptions.defaults().userAgent()));
                }
            }
            return new UpstreamAuthorization(probes, clock, UpstreamAuthorization.MAX_ENTRIES, config.auth().realm());
        }

        /** Downloads first (their aborts queue on the storage executor, still running), then clients, then loops. */
        void close() {
            authorization.close();
            if (pullThrough != null) {
                pullThrough.close();
            }
            if (clients != null) {
                clients.close();
            }
            if (group != null) {
                group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    /**
     * TLS and client authentication: null parts when not configured. The certificate and htpasswd
     * files are checked for changes on their own thread ({@code reloads}: issuing an RSA
     * certificate can take a second), and bcrypt runs on {@code hashing}, a small bounded pool
     * (a full queue is a 503), never on an event loop.
     */
    private record Security(ScheduledExecutorService reloads, ServerTls tls, HtpasswdAuthenticator auth,
                            ThreadPoolExecutor hashing) {

        static Security start(MirrorConfig config, Clock clock, Duration reloadInterval) throws Exception {
            ScheduledExecutorService reloads = Executors.newSingleThreadScheduledExecutor(
                    new DefaultThreadFactory("ocimirror-reload", true));
            ServerTls tls = null;
            HtpasswdAuthenticator auth = null;
            ThreadPoolExecutor hashing = null;
            try {
                if (config.tls().enabled()) {
                    tls = ServerTls.start(config.tls(), config.dataDir(), clock);
                    tls.watch(reloads, reloadInterval);
                }
                if (config.auth().enabled()) {
                    auth = new HtpasswdAuthenticator(config.auth(), clock);
                    auth.watch(reloads, reloadInterval);
                    int n = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
                    hashing = new ThreadPoolExecutor(n, n, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(AUTH_QUEUE),
                            new DefaultThreadFactory("ocimirror-auth", true));
                }
                return new Security(reloads, tls, auth, hashing);
            } catch (Exception | Error e) {
                new Security(reloads, tls, auth, hashing).close();
                throw e;
            }
        }

        String scheme() {
            return tls == null ? "http" : "https";
        }

        void close() {
            if (tls != null) {
                tls.close();
            }
            if (auth != null) {
                auth.close();
            }
            reloads.shutdownNow();
            if (hashing != null) {
                hashing.shutdown();
            }
        }
    }

    /** Opens the storage under {@code config.dataDir()} and listens on {@code config.listen()}. */
    public static MirrorServer start(MirrorConfig config) throws Exception {
        return start(config, Clock.systemUTC());
    }

    /** As {@link #start(MirrorConfig)}, with the clock every timestamp comes from. */
    public static MirrorServer start(MirrorConfig config, Clock clock) throws Exception {
        return start(config, clock, RELOAD_INTERVAL);
    }

    /**
     * As {@link #start(MirrorConfig, Clock)}, checking the TLS certificate and key files and the
     * htpasswd file for changes every {@code reloadInterval} (tests use a short one).
     */
    public static MirrorServer start(MirrorConfig config, Clock clock, Duration reloadInterval) throws Exception {
        requireNonNull(config, "config");
        requireNonNull(clock, "clock");
        requireNonNull(reloadInterval, "reloadInterval");
        Storage storage = Stores.open(config, clock);
        // RocksDB writes and fsyncs block: more threads than cores, but a bounded queue, so
        // an overloaded disk turns into 503s instead of unbounded memory.
        int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        ThreadPoolExecutor executor = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(STORAGE_QUEUE), new DefaultThreadFactory("ocimirror-storage", true));
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("ocimirror-accept"), io);
        // One event loop per CPU (as nginx runs one worker per core), not Netty's default of two:
        // nothing blocks a loop here, and two loops per CPU only take turns on it, which showed
        // as a doubled p99 for manifest GETs on one CPU (bench W2). io.netty.eventLoopThreads overrides.
        int loops = Integer.getInteger("io.netty.eventLoopThreads", Runtime.getRuntime().availableProcessors());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(Math.max(1, loops),
                new DefaultThreadFactory("ocimirror-io"), io);
        Upstreams upstreams = Upstreams.none();
        Security security = null;
        MirrorMetrics metrics = new MirrorMetrics();
        Channel admin = null;
        AuditLog audit = null;
        CacheMaintenance cache = null;
        try {
            metrics.monitor(executor);
            // After Storage.open: the generated PKI is created under the data directory's lock.
            security = Security.start(config, clock, reloadInterval);
            RegistryService service = new RegistryService(storage.blobs(), storage.metadata(), clock,
                    RegistryService.Settings.from(config), storage.replicaId());
            UpstreamRouter router = new UpstreamRouter(config.upstreams(), config.hosted());
            metrics.monitor(router);
            upstreams = Upstreams.start(config, storage, executor, clock, metrics);
            cache = CacheMaintenance.start(config, storage, executor, clock, router, upstreams.pullThrough(), service);
            // The cache's running byte total (kept with every blob record) and its evictions feed the meters.
            metrics.cacheSizeSource(cache::storedBytes);
            cache.addEvictionListener((digest, size) -> metrics.evicted(size));
            var metricsConfig = config.observability().metrics();
            audit = AuditLog.open(config.observability().log().audit(), clock);
            BooleanSupplier inSync = () -> true;
            if (storage.metadata() instanceof CachedPgMetadataStore pg) {
                metrics.monitor(pg);
                inSync = pg::inSync;
            }
            if (storage.blobs() instanceof TieredBlobStore tier) {
                metrics.monitor(tier);
            }
            Observability obs = new Observability(metrics, new Readiness(storage.metadata(),
                    storage.paths().ingestDir(), executor, clock, inSync), metricsConfig.publicMetrics(), audit);
            ConnectionDrain drain = new ConnectionDrain();
            Channel channel = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(channelType)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new MirrorChannelInitializer(service, router, upstreams.pullThrough(), executor,
                            config.limits(), security.tls(), security.auth(), security.hashing(), obs, drain,
                            upstreams.authorization()))
                    .bind(config.listen().host(), config.listen().port())
                    .sync()
                    .channel();
            boss.scheduleAtFixedRate(() -> sweep(service, executor), SWEEP_MINUTES, SWEEP_MINUTES, TimeUnit.MINUTES);
            // Not at once: start-up never scans every blob (the walk is on the storage executor anyway).
            long every = metricsConfig.cacheSizeInterval().toMillis();
            boss.scheduleAtFixedRate(new CacheSizeProbe(storage.paths().blobsDir(), executor, metrics),
                    Math.min(every, CACHE_SIZE_FIRST.toMillis()), every, TimeUnit.MILLISECONDS);
            if (metricsConfig.adminListen() != null) {
                admin = new ServerBootstrap().group(boss, workers).channel(channelType)
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childHandler(new AdminChannelInitializer(new OpsEndpoints(obs), new PinEndpoints(cache)))
                        .bind(metricsConfig.adminListen().host(), metricsConfig.adminListen().port())
                        .sync().channel();
                log.info("admin listener (/metrics, /healthz, /readyz, /admin/pins; plain HTTP) on {}",
                        admin.localAddress());
            }
            log.info("registry listening on {} ({}, {} transport, data in {})", channel.localAddress(),
                    security.scheme(), epoll ? "epoll" : "nio", config.dataDir().toAbsolutePath());
            if (security.auth() != null && security.tls() == null) {
                log.warn("client authentication over plain HTTP: passwords cross the network readable by anyone"
                        + " on the path; serve TLS (remove --plain-http / tls.mode: off)");
            }
            if (router.proxies()) {
                log.info("proxying {} (hosted namespaces: {})", router.selectors(), config.hosted());
            }
            // pullThrough.prefetch: warmed in the background once the server serves.
            StartupPrefetch prefetch = upstreams.pullThrough() == null || config.pullThrough().prefetch().isEmpty()
                    ? null : new StartupPrefetch(upstreams.pullThrough(), router, config.pullThrough().prefetch(),
                            config.pullThrough().prefetchPlatforms().stream().map(Platform::parse).toList()).start();
            return new MirrorServer(storage, executor, upstreams, security, prefetch, boss, workers, channel,
                    new Ops(metrics, obs.readiness(), admin, audit), cache, drain, config);
        } catch (Exception | Error e) {
            if (admin != null) {
                admin.close();
            }
            if (audit != null) {
                audit.close();
            }
            if (cache != null) {
                cache.close();
            }
            metrics.close();
            boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            upstreams.close();
            if (security != null) {
                security.close();
            }
            executor.shutdownNow();
            storage.close();
            throw e;
        }
    }

    private static void sweep(RegistryService service, ThreadPoolExecutor executor) {
        try {
            executor.execute(() -> service.uploads().expireIdle());
        } catch (RuntimeException e) {
            log.warn("upload sweep not scheduled: {}", e.toString());
        }
    }

    /** The address the server listens on (with the real port when configured with port 0). */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** The background prefetch of {@code pullThrough.prefetch}, or null when there is none. */
    public StartupPrefetch startupPrefetch() {
        return prefetch;
    }

    /** The admin listener's address, or null when {@code metrics.adminListen} is not set. */
    public InetSocketAddress adminAddress() {
        return ops.admin() == null ? null : (InetSocketAddress) ops.admin().localAddress();
    }

    /** The meters of this server (for the cache's eviction counters, and tests). */
    public MirrorMetrics metrics() {
        return ops.metrics();
    }

    /** Eviction, garbage collection and pins: sizes, listeners (metrics), runs on demand. */
    public CacheMaintenance cache() {
        return cache;
    }

    /**
     * Warms the request paths up ({@link Warmup}) while {@code /readyz} answers 503 "warming up";
     * ready (if nothing else is wrong) once it is over, at the latest after {@code maxDuration}.
     * The server serves meanwhile: a client that ignores readiness is answered, only more slowly.
     */
    public synchronized CompletableFuture<Warmup.Report> warmUp(Duration maxDuration) {
        if (closed.get() || warmup != null) {
            throw new IllegalStateException(closed.get() ? "closed" : "warmed up already");
        }
        warmup = Warmup.start(config, maxDuration);
        ops.readiness().warmingUp(warmup.done());
        return warmup.done();
    }

    /** {@code https}, or {@code http} when TLS is off. */
    public String scheme() {
        return security.scheme();
    }

    /**
     * Stops the server; idempotent. Blocks until the requests in flight have finished (at most
     * {@code shutdown.gracePeriod}) and the storage is closed.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        log.info("registry on {} stopping", serverChannel.localAddress());
        Warmup w;
        synchronized (this) { // warmUp checks closed under this lock: none starts after this
            w = warmup;
        }
        if (w != null) {
            w.close(); // a stop during the warm-up: its throw-away server first
        }
        try {
            serverChannel.close().syncUninterruptibly();
            drainConnections();
            if (ops.admin() != null) {
                ops.admin().close().syncUninterruptibly();
            }
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        } finally {
            if (prefetch != null) {
                prefetch.close();
            }
            cache.close();
            try {
                upstreams.close();
            } catch (RuntimeException e) {
                log.warn("closing the upstream clients", e);
            }
            security.close();
            storageExecutor.shutdown();
            try {
                if (!storageExecutor.awaitTermination(30, TimeUnit.SECONDS)) {
                    log.warn("storage tasks still running after 30 s; closing storage under them");
                    storageExecutor.shutdownNow();
                }
            } catch (InterruptedException e) {
                storageExecutor.shutdownNow();
                Thread.currentThread().interrupt();
            }
            storage.close();
            ops.metrics().close();
            if (ops.audit() != null) {
                ops.audit().close(); // after the drain: the last requests' lines are written
            }
            log.info("registry stopped");
        }
    }

    /** Not ready any more; lets the requests in flight finish within the grace period, then cuts the rest. */
    private void drainConnections() {
        ops.readiness().stopping();
        long start = System.nanoTime();
        int connections = drain.connections();
        int inFlight = drain.inFlight();
        drain.begin();
        log.info("draining {} connection(s), {} request(s) in flight, waiting up to {}", connections, inFlight,
                seconds(grace));
        boolean finished;
        try {
            finished = drain.awaitInFlight(grace);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            finished = false;
        }
        int left = drain.inFlight();
        if (finished || left == 0) {
            log.info("drained in {}: every request in flight finished",
                    String.format(Locale.ROOT, "%.1fs", (System.nanoTime() - start) / 1e9));
        } else {
            log.warn("shutdown grace period ({}) over: cutting {} request(s) still in flight on {} connection(s)",
                    seconds(grace), left, drain.connections());
        }
        drain.closeAll().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
