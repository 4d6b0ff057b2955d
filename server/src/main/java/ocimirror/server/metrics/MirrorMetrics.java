package ocimirror.server.metrics;

import static java.util.Objects.requireNonNull;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.pullthrough.CacheResult;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.route.RouteKind;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.server.upstream.FailoverUpstreamClient;
import ocimirror.server.upstream.ResponseListener;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.storage.blob.TieredBlobStore;
import ocimirror.storage.meta.pg.CachedPgMetadataStore;

/**
 * Every meter of one running mirror, in its own Prometheus registry (created once by
 * {@code MirrorServer} and handed to whatever records into it; nothing global). The names, as
 * {@link #scrape()} writes them, are listed in docs/observability.md; labels
 * only take values from small fixed sets (route kinds, methods, statuses, configured upstream
 * names), never a repository, tag or client address.
 *
 * <p>Pull-through counters are read from {@link PullThroughService#stats()} and its in-flight
 * map when scraped (function counters), not counted twice. Thread-safe.
 */
public final class MirrorMetrics implements AutoCloseable {
    /** The Prometheus text exposition format, version 0.0.4, what {@link #scrape()} returns. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** Histogram buckets for request and upstream latencies: from a cached manifest to a large layer. */
    private static final Duration[] BUCKETS = {
        Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
        Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
        Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofSeconds(60), Duration.ofSeconds(300)};
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS");

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final Counter evictions;
    private final Counter evictedBytes;
    private final Counter tlsSuccess;
    private final Counter tlsFailure;
    private final Counter acceptTimeouts;
    private final Counter headTimeouts;
    private final Counter bodyTimeouts;
    private final AtomicInteger connections = new AtomicInteger();
    private final CacheSize cacheSize = new CacheSize();
    private final Map<RequestKey, Counter> requests = new ConcurrentHashMap<>();
    private final Map<RouteKind, RouteMeters> routes = new ConcurrentHashMap<>();
    private static final CacheResult[] CACHE_RESULTS = CacheResult.values();
    private final AtomicReferenceArray<Counter> cacheRequests =
            new AtomicReferenceArray<>(RouteKind.values().length * CACHE_RESULTS.length);
    private final UpstreamMeters upstreams;

    private record RequestKey(RouteKind route, String method, int status) {
    }

    private record RouteMeters(Timer duration, Counter bytes) {
    }

    /** The last measurement of {@code blobs/} (NaN until the first one), or a running total to read instead. */
    private static final class CacheSize {
        volatile double bytes = Double.NaN;
        volatile double blobs = Double.NaN;
        volatile LongSupplier source;

        double bytes() {
            LongSupplier s = source;
            return s != null ? s.getAsLong() : bytes;
        }
    }

    /** A registry with the JVM and process meters bound. */
    public MirrorMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        evictions = Counter.builder("ocimirror.cache.evictions")
                .description("Blobs deleted by cache eviction").register(registry);
        evictedBytes = Counter.builder("ocimirror.cache.evicted").baseUnit("bytes")
                .description("Bytes deleted by cache eviction").register(registry);
        tlsSuccess = tls("success");
        tlsFailure = tls("failure");
        acceptTimeouts = requestTimeouts("accept");
        headTimeouts = requestTimeouts("head");
        bodyTimeouts = requestTimeouts("body");
        Gauge.builder("ocimirror.http.connections", connections, AtomicInteger::get)
                .description("Client connections open").register(registry);
        Gauge.builder("ocimirror.cache.size", cacheSize, CacheSize::bytes).baseUnit("bytes")
                .description("Bytes of committed blobs on disk").register(registry);
        Gauge.builder("ocimirror.cache.blobs", cacheSize, c -> c.blobs)
                .description("Committed blobs on disk, as last measured").register(registry);
        upstreams = new UpstreamMeters(registry, BUCKETS);
    }

    private Counter tls(String result) {
        return Counter.builder("ocimirror.tls.handshakes").tag("result", result)
                .description("TLS handshakes with clients").register(registry);
    }

    private Counter requestTimeouts(String phase) {
        return Counter.builder("ocimirror.http.request.timeouts").tag("phase", phase)
                .description("Connections closed for a slow client: accept (no request byte within the head"
                        + " timeout), head (a head not whole in time) or body (a body stalled)").register(registry);
    }

    /** The registry, for meters recorded elsewhere. */
    public MeterRegistry registry() {
        return registry;
    }

    /** Every meter in the Prometheus text format ({@link #CONTENT_TYPE}). */
    public String scrape() {
        return registry.scrape();
    }

    // --- requests ---

    /**
     * One answered request: {@code ocimirror_http_requests_total}, the latency histogram and the
     * body bytes sent.
     *
     * @param method the request method (anything unusual is counted as {@code OTHER})
     * @param status the status sent (499: none, the client left first)
     */
    public void request(RouteKind route, String method, int status, long bytes, long nanos) {
        String m = METHODS.contains(method) ? method : "OTHER";
        requests.computeIfAbsent(new RequestKey(route, m, status), k -> Counter.builder("ocimirror.http.requests")
                .tag("route", k.route().label()).tag("method", k.method()).tag("status", Integer.toString(k.status()))
                .description("Requests answered, by route kind, method and status").register(registry)).increment();
        RouteMeters r = routes.computeIfAbsent(route, k -> new RouteMeters(
                Timer.builder("ocimirror.http.request.duration").tag("route", k.label())
                        .description("From the request's arrival to its response's last byte written")
                        .serviceLevelObjectives(BUCKETS).register(registry),
                Counter.builder("ocimirror.http.served").baseUnit("bytes").tag("route", k.label())
                        .description("Response body bytes written").register(registry)));
        r.duration().record(nanos, TimeUnit.NANOSECONDS);
        if (bytes > 0) {
            r.bytes().increment(bytes);
        }
    }

    /** What the cache did for one request of a proxied repository ({@code kind}: manifest or blob). */
    public void cacheRequest(RouteKind kind, CacheResult result) {
        // An array slot per kind and result: a key built per request was garbage on every proxied GET.
        int slot = kind.ordinal() * CACHE_RESULTS.length + result.ordinal();
        Counter c = cacheRequests.get(slot);
        if (c == null) {
            // Registering twice in a race is harmless: the registry returns the meter it has.
            c = Counter.builder("ocimirror.cache.requests")
                    .tag("kind", kind.label()).tag("result", result.label())
                    .description("Requests of proxied repositories, by what the cache did").register(registry);
            cacheRequests.set(slot, c);
        }
        c.increment();
    }

    /** A client connection opened ({@code +1}) or closed ({@code -1}). */
    public void connections(int delta) {
        connections.addAndGet(delta);
    }

    /** A TLS handshake with a client ended. */
    public void tlsHandshake(boolean success) {
        (success ? tlsSuccess : tlsFailure).increment();
    }

    /** A connection sent no byte of its first request within {@code limits.requestHeadTimeout}. */
    public void acceptTimeout() {
        acceptTimeouts.increment();
    }

    /** A request head did not arrive whole within {@code limits.requestHeadTimeout} (answered 408). */
    public void headTimeout() {
        headTimeouts.increment();
    }

    /** A request body stalled for {@code limits.requestBodyTimeout}. */
    public void bodyTimeout() {
        bodyTimeouts.increment();
    }

    // --- cache ---

    /** Blobs deleted by eviction: increment once per blob ({@code ocimirror_cache_evictions_total}). */
    public Counter evictions() {
        return evictions;
    }

    /** Bytes deleted by eviction ({@code ocimirror_cache_evicted_bytes_total}). */
    public Counter evictedBytes() {
        return evictedBytes;
    }

    /** The size of {@code blobs/}, as just measured ({@link CacheSizeProbe}). */
    public void cacheSize(long bytes, long blobs) {
        cacheSize.bytes = bytes;
        cacheSize.blobs = blobs;
    }

    /**
     * Reads {@code ocimirror_cache_size_bytes} from {@code bytes} when scraped (a running total the
     * storage keeps) instead of the last walk of {@code blobs/}.
     */
    public void cacheSizeSource(LongSupplier bytes) {
        cacheSize.source = requireNonNull(bytes, "bytes");
    }

    /** One blob of {@code size} bytes evicted: both eviction counters (for an eviction listener). */
    public void evicted(long size) {
        evictions.increment();
        evictedBytes.increment(size);
    }

    /** Reads the pull-through counters and downloads in progress when scraped. */
    public void monitor(PullThroughService pullThrough) {
        requireNonNull(pullThrough, "pullThrough");
        FunctionCounter.builder("ocimirror.cache.stale.served", pullThrough, p -> p.stats().staleServed())
                .description("Cached manifests served without revalidation while their upstream was out")
                .register(registry);
        FunctionCounter.builder("ocimirror.cache.coalesced", pullThrough, p -> p.stats().coalesced())
                .tag("kind", "manifest").description("Requests that joined another request's upstream fetch")
                .register(registry);
        FunctionCounter.builder("ocimirror.cache.coalesced", pullThrough, p -> p.inflight().joinedCount())
                .tag("kind", "blob").description("Requests that joined another request's upstream fetch")
                .register(registry);
        FunctionCounter.builder("ocimirror.cache.negative.hits", pullThrough, p -> p.stats().negativeHits())
                .description("Requests answered 404 from the memory of an upstream 404").register(registry);
        FunctionCounter.builder("ocimirror.pullthrough.blob.fetches", pullThrough, p -> p.stats().blobFetches())
                .description("Blob downloads started (one per digest however many clients ask)").register(registry);
        FunctionCounter.builder("ocimirror.pullthrough.prefetches", pullThrough, p -> p.stats().prefetches())
                .description("Blobs asked for in the background after their manifest was fetched").register(registry);
        Gauge.builder("ocimirror.pullthrough.inflight.fetches", pullThrough, p -> p.inflight().size())
                .description("Blob downloads in progress").register(registry);
        for (String upstream : pullThrough.upstreamNames()) {
            FunctionCounter.builder("ocimirror.upstream.manifests.invalid", pullThrough,
                            p -> p.invalidManifests(upstream)).tag("upstream", upstream)
                    .description("Upstream answers to manifest requests that were not a manifest (a captive portal's"
                            + " page, other JSON), refused: not served, not cached").register(registry);
        }
    }

    /** Reads the requests refused by upstreams' allow and deny rules when scraped. */
    public void monitor(UpstreamRouter router) {
        requireNonNull(router, "router");
        for (String upstream : router.upstreamNames()) {
            FunctionCounter.builder("ocimirror.upstream.denied", router, r -> r.denials(upstream))
                    .tag("upstream", upstream)
                    .description("Repositories refused by the upstream's allow and deny rules (403 DENIED):"
                            + " nothing fetched, nothing served from the cache").register(registry);
        }
    }

    /** Reads the client authorization counts of the upstreams with {@code authorization: upstream} when scraped. */
    public void monitor(UpstreamAuthorization authorization) {
        requireNonNull(authorization, "authorization");
        authorization.stats().forEach((upstream, st) -> {
            FunctionCounter.builder("ocimirror.client.authorization.checks", st, UpstreamAuthorization.Stats::checks)
                    .tag("upstream", upstream)
                    .description("Checks sent to the upstream with a client's credentials (authorization: upstream)")
                    .register(registry);
            FunctionCounter.builder("ocimirror.client.authorization.cached", st, UpstreamAuthorization.Stats::cached)
                    .tag("upstream", upstream)
                    .description("Requests decided by a remembered answer of the upstream, without asking it")
                    .register(registry);
            for (String result : new String[] {"allowed", "denied", "unavailable"}) {
                FunctionCounter.builder("ocimirror.client.authorization.decisions", st, x -> switch (result) {
                    case "allowed" -> x.allowed();
                    case "denied" -> x.denied();
                    default -> x.unavailable();
                }).tag("upstream", upstream).tag("result", result)
                        .description("Requests for the upstream's repositories by the upstream's verdict: allowed,"
                                + " denied (no credentials, 401 or 403), unavailable (503: it could not be asked)")
                        .register(registry);
            }
        });
    }

    /** The shared metadata's memory (shared mode): lookups by outcome, invalidations, listener state. */
    public void monitor(CachedPgMetadataStore metadata) {
        requireNonNull(metadata, "metadata");
        FunctionCounter.builder("ocimirror.metadata.lookups", metadata, CachedPgMetadataStore::hits)
                .tag("result", "hit").description("Tag, manifest and link lookups answered from this replica's memory")
                .register(registry);
        FunctionCounter.builder("ocimirror.metadata.lookups", metadata, CachedPgMetadataStore::misses)
                .tag("result", "miss").description("Tag, manifest and link lookups that asked PostgreSQL")
                .register(registry);
        FunctionCounter.builder("ocimirror.metadata.invalidations", metadata, CachedPgMetadataStore::invalidations)
                .description("Entries dropped from memory by writes and notifications (one per full resync)")
                .register(registry);
        FunctionCounter.builder("ocimirror.metadata.listener.reconnects", metadata, CachedPgMetadataStore::reconnects)
                .description("Reconnections of the PostgreSQL listener (each one a full resync)").register(registry);
        Gauge.builder("ocimirror.metadata.in.sync", metadata, m -> m.inSync() ? 1 : 0)
                .description("1 while the PostgreSQL listener is connected, 0 while changes may be missed")
                .register(registry);
    }

    /** The local tier in front of the shared blobs (shared mode): its bytes, lookups, copies from S3. */
    public void monitor(TieredBlobStore tier) {
        requireNonNull(tier, "tier");
        Gauge.builder("ocimirror.tier.size", tier, TieredBlobStore::tierBytes).baseUnit("bytes")
                .description("Bytes of blobs in this replica's local tier").register(registry);
        FunctionCounter.builder("ocimirror.tier.lookups", tier, TieredBlobStore::hits).tag("result", "hit")
                .description("Blob lookups the local tier answered").register(registry);
        FunctionCounter.builder("ocimirror.tier.lookups", tier, TieredBlobStore::misses).tag("result", "miss")
                .description("Blob lookups the local tier could not answer").register(registry);
        FunctionCounter.builder("ocimirror.tier.copies", tier, TieredBlobStore::copies)
                .description("Copies of blobs from the shared store into the local tier started").register(registry);
    }

    /** The storage executor's backlog and busy threads. */
    public void monitor(ThreadPoolExecutor storage) {
        requireNonNull(storage, "storage");
        Gauge.builder("ocimirror.storage.queue", storage, e -> e.getQueue().size())
                .description("Storage tasks waiting for a thread").register(registry);
        Gauge.builder("ocimirror.storage.active", storage, ThreadPoolExecutor::getActiveCount)
                .description("Storage threads busy").register(registry);
    }

    // --- upstreams ---

    /**
     * The same clients, each recording {@code ocimirror_upstream_*} (requests by outcome, latency,
     * bytes received), and a rate-limit gauge per upstream (NaN until the upstream reports one).
     */
    public UpstreamClients meter(UpstreamClients clients) {
        Map<String, UpstreamClient> metered = new LinkedHashMap<>();
        clients.limiters().forEach(upstreams::limits);
        for (UpstreamClient c : clients.all()) {
            upstreams.rateLimit(c.name());
            if (c instanceof FailoverUpstreamClient f) {
                monitor(f);
            }
            metered.put(c.name(), new MeteredUpstreamClient(c, upstreams));
        }
        return UpstreamClients.of(metered);
    }

    /** Per URL of an upstream with several: attempts, failures, and whether it is backed off, read when scraped. */
    private void monitor(FailoverUpstreamClient f) {
        for (int i = 0; i < f.urls().size(); i++) {
            int url = i;
            FunctionCounter.builder("ocimirror.upstream.url.requests", f, c -> c.requests(url))
                    .tag("upstream", f.name()).tag("url", f.urls().get(i))
                    .description("Attempts sent to one URL of an upstream with several urls").register(registry);
            FunctionCounter.builder("ocimirror.upstream.url.failures", f, c -> c.failures(url))
                    .tag("upstream", f.name()).tag("url", f.urls().get(i))
                    .description("Attempts to one URL that failed (connect, TLS, timeout, 5xx, 429) and moved on to"
                            + " the next URL").register(registry);
            Gauge.builder("ocimirror.upstream.url.backoff", f, c -> c.backedOff(url) ? 1 : 0)
                    .tag("upstream", f.name()).tag("url", f.urls().get(i))
                    .description("1 while the URL is backed off after a failure (tried only if every other fails)")
                    .register(registry);
        }
    }

    /** The hook for {@code UpstreamClientOptions}: reads rate-limit headers of upstream responses. */
    public ResponseListener rateLimitListener() {
        return upstreams.listener();
    }

    /** Upstream names with a rate-limit gauge. */
    Collection<String> upstreamNames() {
        return upstreams.names();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }

    static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
