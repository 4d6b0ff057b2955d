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
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import ocimirror.config.MirrorConfig;
import ocimirror.server.pipeline.MirrorChannelInitializer;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.server.upstream.UpstreamClientOptions;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.storage.Storage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running registry: storage, the bounded storage executor, the upstream clients and the
 * pull-through service (only when upstreams are configured) and the Netty server, wired by hand.
 * {@link #start} returns once the socket listens; {@link #close} stops accepting, closes the
 * connections, cancels the downloads in progress and closes the upstream clients, lets queued
 * storage work finish, and closes the storage last.
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

    private final Storage storage;
    private final ThreadPoolExecutor storageExecutor;
    private final Upstreams upstreams;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel serverChannel;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MirrorServer(Storage storage, ThreadPoolExecutor storageExecutor, Upstreams upstreams, EventLoopGroup boss,
                         EventLoopGroup workers, Channel serverChannel) {
        this.storage = storage;
        this.storageExecutor = storageExecutor;
        this.upstreams = upstreams;
        this.boss = boss;
        this.workers = workers;
        this.serverChannel = serverChannel;
    }

    /** The pull-through side: null parts when no upstream is configured. */
    private record Upstreams(EventLoopGroup group, UpstreamClients clients, PullThroughService pullThrough) {

        static Upstreams none() {
            return new Upstreams(null, null, null);
        }

        static Upstreams start(MirrorConfig config, Storage storage, ThreadPoolExecutor executor, Clock clock) {
            if (config.upstreams().isEmpty()) {
                return none();
            }
            EventLoopGroup group = NettyUpstreamClient.newEventLoopGroup(Math.max(2, Runtime.getRuntime()
                    .availableProcessors()));
            try {
                UpstreamClients clients = UpstreamClients.create(config.upstreams(), group, clock,
                        UpstreamClientOptions.defaults().withMaxManifestBytes(config.limits().maxManifestBytes()));
                PullThroughService pullThrough = new PullThroughService(storage.blobs(), storage.metadata(), clients,
                        executor, clock, new PullThroughService.Settings(config.pullThrough().prefetchLayers(),
                        config.pullThrough().negativeCacheTtl(), PullThroughService.Settings.defaults()
                        .prefetchParallelism()));
                return new Upstreams(group, clients, pullThrough);
            } catch (RuntimeException e) {
                group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
                throw e;
            }
        }

        /** Downloads first (their aborts queue on the storage executor, still running), then clients, then loops. */
        void close() {
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

    /** Opens the storage under {@code config.dataDir()} and listens on {@code config.listen()}. */
    public static MirrorServer start(MirrorConfig config) throws Exception {
        return start(config, Clock.systemUTC());
    }

    /** As {@link #start(MirrorConfig)}, with the clock every timestamp comes from. */
    public static MirrorServer start(MirrorConfig config, Clock clock) throws Exception {
        requireNonNull(config, "config");
        requireNonNull(clock, "clock");
        Storage storage = Storage.open(config.dataDir(), clock);
        // RocksDB writes and fsyncs block: more threads than cores, but a bounded queue, so
        // an overloaded disk turns into 503s instead of unbounded memory.
        int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        ThreadPoolExecutor executor = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(STORAGE_QUEUE), new DefaultThreadFactory("ocimirror-storage", true));
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("ocimirror-accept"), io);
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("ocimirror-io"), io);
        Upstreams upstreams = Upstreams.none();
        try {
            RegistryService service = new RegistryService(storage.blobs(), storage.metadata(), clock,
                    RegistryService.Settings.from(config));
            UpstreamRouter router = new UpstreamRouter(config.upstreams(), config.hosted());
            upstreams = Upstreams.start(config, storage, executor, clock);
            Channel channel = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(channelType)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new MirrorChannelInitializer(service, router, upstreams.pullThrough(), executor,
                            config.limits()))
                    .bind(config.listen().host(), config.listen().port())
                    .sync()
                    .channel();
            boss.scheduleAtFixedRate(() -> sweep(service, executor), SWEEP_MINUTES, SWEEP_MINUTES, TimeUnit.MINUTES);
            log.info("registry listening on {} ({} transport, data in {})", channel.localAddress(),
                    epoll ? "epoll" : "nio", config.dataDir().toAbsolutePath());
            if (router.proxies()) {
                log.info("proxying {} (hosted namespaces: {})", router.selectors(), config.hosted());
            }
            return new MirrorServer(storage, executor, upstreams, boss, workers, channel);
        } catch (Exception | Error e) {
            boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            upstreams.close();
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

    /** Stops the server; idempotent. Blocks until the storage is closed. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        log.info("registry on {} stopping", serverChannel.localAddress());
        try {
            serverChannel.close().syncUninterruptibly();
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        } finally {
            try {
                upstreams.close();
            } catch (RuntimeException e) {
                log.warn("closing the upstream clients", e);
            }
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
            log.info("registry stopped");
        }
    }
}
