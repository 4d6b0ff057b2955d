package ocimirror.server.upstream;

import io.netty.channel.EventLoopGroup;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.BiFunction;
import java.util.function.Function;
import ocimirror.config.CredentialsException;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client of an upstream with several {@code urls}: one {@link NettyUpstreamClient} per URL
 * (its own connections, CA, credentials and token cache, so nothing one URL's host is given
 * reaches another's), and a request goes to the first URL {@link UrlBackoff} prefers. An attempt
 * that fails with an outage (connect or TLS error, timeout, 5xx, 429) backs its URL off and moves
 * on at once to the next URL; any other answer (a 404, a 401) is the request's answer.
 *
 * <p>{@code maxRetries} counts attempts across URLs: moving to the next URL is a retry. Every URL
 * is tried once per request even when {@code maxRetries} is smaller, and retries left after the
 * last URL start over at the first after the usual exponential delay ({@code Retry-After}
 * honoured). Never once a blob body has begun to reach the sink. What comes back is verified by
 * the caller whichever URL sent it, as from a single URL.
 */
public final class FailoverUpstreamClient implements UpstreamClient {

    private static final Logger LOG = LoggerFactory.getLogger(FailoverUpstreamClient.class);

    private final String name;
    private final List<String> urls;
    private final List<UpstreamClient> clients;
    private final UrlBackoff backoff;
    private final int maxRetries;
    private final ScheduledExecutorService scheduler;
    private final BiFunction<UpstreamException, Integer, Duration> retryDelay;
    private final AtomicLongArray requests;
    private final AtomicLongArray failures;

    /**
     * @param urls       how each URL is named in logs and metrics ({@code https://host:port})
     * @param clients    one per URL, in configured order; each makes a single attempt
     * @param retryDelay the wait before starting over at the first URL for round {@code n}
     *                   (1, 2, ...), or null not to
     */
    FailoverUpstreamClient(String name, List<String> urls, List<UpstreamClient> clients, UrlBackoff backoff,
                           int maxRetries, ScheduledExecutorService scheduler,
                           BiFunction<UpstreamException, Integer, Duration> retryDelay) {
        this.name = Objects.requireNonNull(name, "name");
        this.urls = List.copyOf(urls);
        this.clients = List.copyOf(clients);
        if (this.urls.size() != this.clients.size() || this.urls.isEmpty()) {
            throw new IllegalArgumentException("one client per URL");
        }
        this.backoff = Objects.requireNonNull(backoff, "backoff");
        this.maxRetries = maxRetries;
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.retryDelay = Objects.requireNonNull(retryDelay, "retryDelay");
        this.requests = new AtomicLongArray(clients.size());
        this.failures = new AtomicLongArray(clients.size());
    }

    /**
     * One {@link NettyUpstreamClient} per URL of {@code config}, each with that URL's CA and
     * credentials (read now; a URL's credential helper runs on {@code blocking} when first needed)
     * and no retries of its own.
     *
     * @throws CredentialsException if a URL's credentials cannot be read (the message names the URL)
     */
    public static FailoverUpstreamClient create(UpstreamConfig config, EventLoopGroup group,
                                                Clock clock, UpstreamClientOptions options, Executor blocking) {
        List<String> names = new ArrayList<>();
        List<UpstreamClient> clients = new ArrayList<>();
        UpstreamLimiter limiter = UpstreamLimiter.of(config, group); // the upstream's, shared by its URLs
        try {
            for (int i = 0; i < config.urls().size(); i++) {
                names.add(config.urls().get(i).origin());
                UpstreamConfig one = config.forUrl(i).withMaxRetries(0);
                try {
                    clients.add(new NettyUpstreamClient(one, UpstreamCredentials.of(one, blocking, clock), group,
                            clock, options, limiter));
                } catch (CredentialsException e) {
                    throw new CredentialsException(e.getMessage().replaceFirst("^upstream '[^']*'",
                            "upstream '" + config.name() + "' url " + one.url()), e);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("url " + one.url() + ": " + e.getMessage(), e);
                }
            }
        } catch (RuntimeException e) {
            clients.forEach(UpstreamClient::close);
            throw e;
        }
        NettyUpstreamClient first = (NettyUpstreamClient) clients.get(0);
        return new FailoverUpstreamClient(config.name(), names, clients,
                new UrlBackoff(clients.size(), clock, UrlBackoff.INITIAL, UrlBackoff.MAX), config.maxRetries(), group,
                first::retryDelay);
    }

    @Override
    public String name() {
        return name;
    }

    /** The upstream's connection turns and bandwidth bucket, which every URL's client takes from. */
    public UpstreamLimiter limiter() {
        return ((NettyUpstreamClient) clients.get(0)).limiter();
    }

    /** The clients of the URLs, in configured order (for tests). */
    List<UpstreamClient> urlClients() {
        return clients;
    }

    /** The URLs, as named in logs and metrics, in configured order. */
    public List<String> urls() {
        return urls;
    }

    /** Attempts sent to URL {@code i}. */
    public long requests(int i) {
        return requests.get(i);
    }

    /** Attempts to URL {@code i} that failed with an outage (and moved on to the next URL). */
    public long failures(int i) {
        return failures.get(i);
    }

    /** Whether URL {@code i} is backed off now (tried only when every other URL failed too). */
    public boolean backedOff(int i) {
        return backoff.backedOff(i);
    }

    @Override
    public CompletableFuture<UpstreamManifest> getManifest(RepoName repo, Reference reference, List<String> accept) {
        return run(c -> c.getManifest(repo, reference, accept), null);
    }

    @Override
    public CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept) {
        return run(c -> c.headManifest(repo, reference, accept), null);
    }

    @Override
    public CompletableFuture<UpstreamListing> listTags(RepoName repo, int n, String last) {
        return run(c -> c.listTags(repo, n, last), null);
    }

    @Override
    public CompletableFuture<UpstreamListing> referrers(RepoName repo, Digest subject, String artifactType) {
        return run(c -> c.referrers(repo, subject, artifactType), null);
    }

    @Override
    public CompletableFuture<UpstreamListing> referrersPage(RepoName repo, Digest subject, String link) {
        // A relative link: the next page of whichever URL answers, which serve the same content.
        return run(c -> c.referrersPage(repo, subject, link), null);
    }

    @Override
    public CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink) {
        AtomicBoolean started = new AtomicBoolean();
        CompletableFuture<Long> out = run(c -> c.fetchBlob(repo, digest, new AttemptSink(sink, started)), started);
        out.whenComplete((v, e) -> {
            // An attempt that failed before the body started kept its error from the sink, which
            // must still hear of the end exactly once.
            if (e != null && !started.get()) {
                sink.onError(unwrap(e));
            }
        });
        return out;
    }

    @Override
    public void close() {
        clients.forEach(UpstreamClient::close);
    }

    private <T> CompletableFuture<T> run(Function<UpstreamClient, CompletableFuture<T>> call, AtomicBoolean started) {
        CompletableFuture<T> out = new CompletableFuture<>();
        new Attempts<>(call, started, out, backoff.order()).attempt(0);
        return out;
    }

    /** The attempts of one request, over the URLs in the order chosen when it began. */
    private final class Attempts<T> {
        final Function<UpstreamClient, CompletableFuture<T>> call;
        final AtomicBoolean started;
        final CompletableFuture<T> out;
        final List<Integer> order;
        final int budget;
        volatile CompletableFuture<T> current;

        Attempts(Function<UpstreamClient, CompletableFuture<T>> call, AtomicBoolean started, CompletableFuture<T> out,
                 List<Integer> order) {
            this.call = call;
            this.started = started;
            this.out = out;
            this.order = order;
            this.budget = Math.max(maxRetries + 1, order.size());
            out.whenComplete((v, e) -> {
                CompletableFuture<T> c = current;
                if (out.isCancelled() && c != null) {
                    c.cancel(false);
                }
            });
        }

        void attempt(int k) {
            if (out.isDone()) {
                return;
            }
            int i = order.get(k % order.size());
            requests.incrementAndGet(i);
            CompletableFuture<T> f;
            try {
                f = call.apply(clients.get(i));
            } catch (RuntimeException e) {
                out.completeExceptionally(e);
                return;
            }
            current = f;
            if (out.isCancelled()) {
                f.cancel(false);
            }
            f.whenComplete((v, err) -> {
                if (err == null) {
                    backoff.succeeded(i);
                    out.complete(v);
                    return;
                }
                Throwable e = unwrap(err);
                if (!(e instanceof UpstreamException ue) || !ue.kind().isOutage()) {
                    if (e instanceof UpstreamException) {
                        backoff.succeeded(i); // it answered: the answer is the request's
                    }
                    out.completeExceptionally(e);
                    return;
                }
                failures.incrementAndGet(i);
                Duration off = backoff.failed(i);
                if (off != null) {
                    LOG.warn("upstream '{}': {} failed ({}); backed off for {} s", name, urls.get(i), ue.getMessage(),
                            off.toSeconds());
                }
                int next = k + 1;
                if ((started != null && started.get()) || out.isDone() || next >= budget) {
                    out.completeExceptionally(ue.withAttempts(next));
                    return;
                }
                if (next % order.size() != 0) {
                    LOG.debug("upstream '{}': trying {} after {} failed", name, urls.get(order.get(next % order.size())),
                            urls.get(i));
                    attempt(next);
                    return;
                }
                Duration delay = retryDelay.apply(ue, next / order.size());
                if (delay == null) {
                    out.completeExceptionally(ue.withAttempts(next));
                    return;
                }
                try {
                    scheduler.schedule(() -> attempt(next), delay.toNanos(), TimeUnit.NANOSECONDS);
                } catch (RejectedExecutionException rejected) {
                    out.completeExceptionally(ue.withAttempts(next));
                }
            });
        }
    }

    /**
     * The sink for one attempt: passes everything on, except an error before the body started
     * (the next URL may still deliver it; {@link #fetchBlob} reports the final failure).
     */
    private static final class AttemptSink implements BlobSink {
        private final BlobSink sink;
        private final AtomicBoolean started;

        AttemptSink(BlobSink sink, AtomicBoolean started) {
            this.sink = sink;
            this.started = started;
        }

        @Override
        public CompletionStage<Void> onStart(long contentLength) {
            started.set(true);
            return sink.onStart(contentLength);
        }

        @Override
        public CompletionStage<Void> onData(ByteBuffer data) {
            return sink.onData(data);
        }

        @Override
        public void onComplete(long bytes) {
            sink.onComplete(bytes);
        }

        @Override
        public void onError(Throwable error) {
            if (started.get()) {
                sink.onError(error);
            }
        }
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
