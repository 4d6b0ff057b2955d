package ocimirror.server.warmup;

import static java.util.Objects.requireNonNull;

import com.sun.management.HotSpotDiagnosticMXBean;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.server.MirrorServer;
import ocimirror.server.upstream.NettyUpstreamClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the request paths of a server before it is reported ready, so that a fresh replica put
 * into service by a rolling update serves at its warm rate from its first request instead of
 * through the interpreter and the first tier of the JIT (bench/fresh.sh, without it: 0.46x the
 * warm manifest rate and 25x the warm p99 in the first 10 s, the first cold blob 1.59x slower).
 *
 * <p>The JIT compiles methods, not objects, so the work is done by a throw-away server in
 * {@code <data>/.warmup} (deleted before and after): a pull-through proxy that speaks TLS when
 * the real server does, in front of a minimal upstream that serves one image from memory. A minimal
 * client ({@link WarmupClient}) pulls through the proxy the way nodes do: manifests by tag and
 * by digest with containerd's Accept header, HEADs, cached blobs, cold blobs on new connections.
 * Nothing touches the real server's store, upstreams or listener; the throw-away server's log
 * lines are kept off stderr ({@link WarmupLogFilter}).
 *
 * <p>It stops when the JIT has nothing left to compile for this load (its compile time grew by
 * less than {@link #SETTLED} of a round's wall time, {@link #QUIET_ROUNDS} rounds in a row, after at
 * least {@link #MIN_DURATION}), or at {@code maxDuration}.
 */
public final class Warmup implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Warmup.class);
    /** A round is settled when the JIT spent less than this share of it compiling. */
    static final double SETTLED = 0.03;
    /** Quiet rounds in a row that make it settled. */
    private static final int QUIET_ROUNDS = 3;
    private static final Duration MIN_DURATION = Duration.ofSeconds(5);
    /** How long {@link #close} waits for a warm-up it stopped (a round's requests, then its server's stop). */
    private static final Duration STOP_WAIT = Duration.ofSeconds(10);
    /** Full collections it takes the serial collector to shrink the old generation all the way. */
    private static final int SHRINK_STEPS = 4;

    /** What a warm-up did: its wall time, rounds of load, requests, and whether it settled before its limit. */
    public record Report(Duration took, int rounds, long requests, boolean settled) {
    }

    private final MirrorConfig real;
    private final long deadline;
    private final CompletableFuture<Report> done = new CompletableFuture<>();
    private final Thread thread;
    private volatile boolean stopped;

    private Warmup(MirrorConfig real, Duration maxDuration) {
        this.real = real;
        this.deadline = System.nanoTime() + maxDuration.toNanos();
        ThreadGroup group = new ThreadGroup("ocimirror-warmup");
        WarmupLogFilter filter = WarmupLogFilter.install(group, Warmup.class.getName());
        this.thread = new Thread(group, () -> {
            try {
                done.complete(run());
            } catch (Exception | Error e) {
                if (!stopped) {
                    log.warn("warm-up failed (the server is ready without it): {}", e.toString());
                }
                done.complete(new Report(Duration.ZERO, 0, 0, false));
            } finally {
                filter.remove();
            }
        }, "ocimirror-warmup");
        thread.setDaemon(true);
    }

    /**
     * Starts a warm-up in its own thread group (whose log events are dropped) for a server
     * configured as {@code real}. Its {@link #done} never fails: a warm-up that cannot run is
     * logged and completes, since a server that is merely slow for some seconds must still serve.
     */
    public static Warmup start(MirrorConfig real, Duration maxDuration) {
        Warmup w = new Warmup(requireNonNull(real, "real"), requireNonNull(maxDuration, "maxDuration"));
        w.thread.start();
        return w;
    }

    /** Completes when the warm-up is over, whether it settled, hit its limit, failed or was stopped. */
    public CompletableFuture<Report> done() {
        return done;
    }

    /** Stops a warm-up still running and waits until its throw-away server is closed and its files are gone. */
    @Override
    public void close() {
        stopped = true;
        try {
            done.get(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("warm-up not over {} s after it was stopped", STOP_WAIT.toSeconds());
        }
    }

    private boolean over() {
        return stopped || System.nanoTime() - deadline > 0;
    }

    private Report run() throws Exception {
        long start = System.nanoTime();
        Path dir = real.dataDir().resolve(".warmup");
        delete(dir);
        try {
            Files.createDirectories(dir);
            EventLoopGroup group = NettyUpstreamClient.newEventLoopGroup(1);
            try (WarmupUpstream upstream = new WarmupUpstream(group);
                 MirrorServer proxy = MirrorServer.start(ConfigLoader.parse(
                         proxyConfig(dir, upstream.port(), real.tls().enabled()), "warm-up", false));
                 WarmupLoad load = new WarmupLoad(upstream, proxy.localAddress().getPort(), real.tls().enabled(), group)) {
                CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
                boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
                int rounds = 0;
                int quiet = 0;
                boolean settled = false;
                load.seed();
                while (!over()) {
                    long roundStart = System.nanoTime();
                    long compiledBefore = timed ? jit.getTotalCompilationTime() : 0;
                    load.round(this::over);
                    rounds++;
                    long wallMs = (System.nanoTime() - roundStart) / 1_000_000;
                    long compileMs = timed ? jit.getTotalCompilationTime() - compiledBefore : wallMs;
                    quiet = compileMs < SETTLED * wallMs ? quiet + 1 : 0;
                    if (quiet >= QUIET_ROUNDS && System.nanoTime() - start >= MIN_DURATION.toNanos()) {
                        settled = true;
                        break;
                    }
                }
                Report report = new Report(Duration.ofNanos(System.nanoTime() - start), rounds, load.requests(), settled);
                if (!stopped) {
                    log.info("warm-up done in {} ms: {} requests in {} rounds{}", report.took().toMillis(),
                            report.requests(), report.rounds(), settled ? "" : " (stopped at warmup.maxDuration)");
                }
                return report;
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            }
        } finally {
            delete(dir);
            compactHeap();
        }
    }

    /**
     * Gives back the heap the warm-up's garbage made the JVM commit. What it leaves alive is
     * 0.4 MiB (class histograms of a warmed and an unwarmed server), but promotions during the
     * warm-up grow the old generation, and a full collection keeps 40-70% of it free
     * (Min/MaxHeapFreeRatio): so the two ratios, manageable flags, are lowered for these
     * collections and put back. Several collections, because the serial and parallel collectors
     * shrink a generation in steps (ShrinkHeapInSteps): by 0% of the excess at the first full
     * collection, 10% at the second, 40% at the third and all of it at the fourth. One alone
     * shrank nothing (-Xlog:gc+heap: tenured 20.8 MiB committed, 14.4 used, before and after).
     */
    static void compactHeap() {
        try {
            HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            String min = vm.getVMOption("MinHeapFreeRatio").getValue();
            String max = vm.getVMOption("MaxHeapFreeRatio").getValue();
            vm.setVMOption("MinHeapFreeRatio", "10"); // lowered before max: min <= max at every step
            vm.setVMOption("MaxHeapFreeRatio", "20");
            try {
                collect();
            } finally {
                vm.setVMOption("MaxHeapFreeRatio", max);
                vm.setVMOption("MinHeapFreeRatio", min);
            }
        } catch (RuntimeException | LinkageError e) {
            collect(); // a JVM without these flags: at least the collections
        }
    }

    private static void collect() {
        for (int i = 0; i < SHRINK_STEPS; i++) {
            System.gc(); // the garbage is gone after the first: the others move what is alive
        }
    }

    private static String proxyConfig(Path dir, int upstreamPort, boolean tls) {
        return String.join("\n",
                "listen: 127.0.0.1:0",
                "data: " + dir.resolve("proxy"),
                "upstreams:",
                "  - name: origin",
                "    url: http://127.0.0.1:" + upstreamPort,
                "    plainHttp: true",
                "    default: true",
                "    tagTtl: 1h",
                tls ? "tls: {mode: generate, hostNames: [127.0.0.1]}" : "tls: {mode: off}",
                "shutdown: {gracePeriod: 0s}",
                "");
    }

    private static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
