package ocimirror.server.pullthrough;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;
import ocimirror.server.image.Platform;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.blob.GrowingBlob;
import ocimirror.storage.cache.AccessRecorder;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads of proxied repositories: answered from the local store when it can, else from the
 * upstream, whose content is verified, stored and served byte for byte as it came (same bytes,
 * same {@code Docker-Content-Digest}: never converted).
 *
 * <h2>Manifests</h2>
 * <ul>
 *   <li>By digest: immutable. Served from {@code target.repo()} once stored, never revalidated.
 *       Otherwise fetched; the body must hash to the requested digest and to the upstream's
 *       {@code Docker-Content-Digest}, else nothing is stored and the client gets 503.
 *   <li>By tag: a cached resolution younger than the upstream's {@code tagTtl} is served without
 *       asking the upstream. An older one is revalidated with a {@code HEAD}: the same digest
 *       renews it; another digest (or none) is fetched with a {@code GET}. When the upstream is
 *       out (unreachable, 5xx, 429, timeout) the cached copy is served anyway and counted in
 *       {@link PullThroughStats#staleServed()}; for a few seconds after such an answer that
 *       upstream's stale tags are served without asking it (a blackholed upstream would
 *       otherwise cost every request a connect timeout).
 *   <li>An answer that is not a manifest ({@link UpstreamManifestCheck}: a captive portal's HTML
 *       page, JSON of another kind, a {@code mediaType} contradicting the {@code Content-Type}) is
 *       refused whatever the reference: nothing is stored, it counts as an outage (a cached copy
 *       is served stale, else 503 naming the upstream), and it is counted per upstream in
 *       {@link #invalidManifests}.
 *   <li>Accept: the client's {@code Accept} is forwarded as it is, and the cache is keyed so that
 *       a client gets what the upstream would give it. Tag records in the metadata store hold the
 *       answer to <em>full</em> clients (those accepting all four manifest and index types, see
 *       {@link AcceptedTypes}): the tag's true object, which any client accepting its media type
 *       gets too. A client that does not accept it (say, no index types when the tag is an index)
 *       is never given it: its request goes upstream with its own Accept, the manifest it gets is
 *       stored by digest, and the resolution is kept in memory per Accept class, never
 *       overwriting the tag record with a narrower answer.
 *   <li>Upstream 404s are remembered for {@code negativeCacheTtl}; failures are not.
 *   <li>Concurrent requests for one (repository, reference, Accept class) share one upstream
 *       round (HEAD and/or GET): followers get the leader's outcome.
 * </ul>
 *
 * <h2>Blobs</h2>
 * A blob stored locally (under any repository: content-addressed) is linked into
 * {@code target.repo()} and served. Otherwise one download per digest ({@link InflightFetches})
 * streams into its ingest file; the request gets a {@link BlobSource.Downloading} once the
 * upstream's body begins (its length is needed for the response headers; if the upstream
 * declares none, the request waits for the commit instead). A client {@code HEAD} of an uncached
 * blob starts the download too: a GET follows it in practice.
 *
 * <h2>Listings</h2>
 * {@code tags/list} and referrers are the upstream's, cached in memory for its {@code tagTtl} and
 * served stale while it is out ({@link UpstreamListings}).
 *
 * <p>Thread-safe, non-blocking: futures complete on upstream or storage threads. Lookups on the
 * calling thread are point reads (cheap enough for an event loop); all writes go to the storage
 * executor.
 */
public final class PullThroughService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PullThroughService.class);
    private static final int PREFETCH_QUEUE = 1024;
    private static final int NEGATIVE_ENTRIES = 100_000;

    /** Set while a request offloaded by {@link #offload()} runs its lookups on a storage thread. */
    private final ThreadLocal<Boolean> onStorageThread = ThreadLocal.withInitial(() -> false);

    private final BlobStore blobs;
    private final MetadataStore metadata;
    private final UpstreamClients clients;
    private final Executor storage;
    private final Clock clock;
    private final Settings settings;
    private final CacheRecords records;
    private final Counters counters = new Counters();
    private final InflightFetches fetches;
    private final ManifestPuller manifests;
    private final Prefetcher prefetcher;
    private final UpstreamListings listings;
    private final Cache<String, Boolean> blobNotFound;
    private final AccessRecorder access;
    private final AcceptedTypes.ParseCache acceptHeaders = new AcceptedTypes.ParseCache();

    /**
     * @param prefetchLayers      fetch an image manifest's config and layers in the background
     * @param negativeCacheTtl    how long an upstream 404 is remembered
     * @param prefetchParallelism background downloads at a time
     * @param prefetchPlatforms   with {@code prefetchLayers}: the platforms whose images an index
     *                            fetched upstream has fetched in the background (manifest, then
     *                            its config and layers); empty: an index prefetches nothing
     */
    public record Settings(boolean prefetchLayers, Duration negativeCacheTtl, int prefetchParallelism,
                           List<Platform> prefetchPlatforms) {
        public Settings {
            requireNonNull(negativeCacheTtl, "negativeCacheTtl");
            if (negativeCacheTtl.isNegative() || prefetchParallelism <= 0) {
                throw new IllegalArgumentException("need negativeCacheTtl >= 0 and prefetchParallelism > 0");
            }
            prefetchPlatforms = prefetchPlatforms == null ? List.of() : List.copyOf(prefetchPlatforms);
        }

        /** No platform prefetch after an index. */
        public Settings(boolean prefetchLayers, Duration negativeCacheTtl, int prefetchParallelism) {
            this(prefetchLayers, negativeCacheTtl, prefetchParallelism, List.of());
        }

        public static Settings defaults() {
            return new Settings(true, Duration.ofSeconds(30), 4);
        }
    }

    /**
     * @param clients one client per configured upstream, by name (a target's upstream must have one)
     * @param storage the bounded executor for writes, hashing and fsync
     */
    public PullThroughService(BlobStore blobs, MetadataStore metadata, UpstreamClients clients, Executor storage,
                              Clock clock, Settings settings) {
        this.blobs = requireNonNull(blobs, "blobs");
        this.metadata = requireNonNull(metadata, "metadata");
        this.clients = requireNonNull(clients, "clients");
        this.storage = requireNonNull(storage, "storage");
        this.clock = requireNonNull(clock, "clock");
        this.settings = requireNonNull(settings, "settings");
        this.records = new CacheRecords(blobs, metadata, clock);
        this.fetches = new InflightFetches(blobs, storage, this::recordBlob);
        this.prefetcher = new Prefetcher(settings.prefetchParallelism(), PREFETCH_QUEUE, storage, this::prefetchOne);
        this.manifests = new ManifestPuller(blobs, metadata, storage, clock, settings.negativeCacheTtl(), counters,
                this::client, this::fetched);
        // The referrers tag is a manifest like any other: cached, revalidated and served stale alike.
        this.listings = new UpstreamListings(blobs, metadata, storage, clock, counters, this::client,
                (t, ref) -> manifests.get(t, ref, AcceptedTypes.all(), r -> { }));
        this.blobNotFound = Caffeine.newBuilder().maximumSize(NEGATIVE_ENTRIES)
                .ticker(() -> {
                    Instant now = clock.instant();
                    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
                })
                .expireAfterWrite(settings.negativeCacheTtl()).build();
        this.access = new AccessRecorder(metadata, storage, clock, AccessRecorder.DEFAULT_INTERVAL);
    }

    /**
     * The types a client's {@code Accept} headers name, parsed once per distinct header for the
     * whole server (one cache here, not one per connection: a cache per connection cost 1.4 KiB
     * each, 14 MiB with 10 000 connections open).
     */
    public AcceptedTypes accepted(List<String> acceptHeaderValues) {
        return acceptHeaders.parse(acceptHeaderValues);
    }

    /**
     * The manifest {@code ref} names in the proxied repository, for a client that sent
     * {@code accept}. Fails with an {@link ocimirror.storage.oci.OciException}: MANIFEST_UNKNOWN
     * (404), DENIED, TOOMANYREQUESTS or UNAVAILABLE as {@link UpstreamFailures} describes.
     */
    public CompletableFuture<ManifestContent> manifest(RepoTarget.Proxied target, Reference ref, AcceptedTypes accept) {
        return manifest(target, ref, accept, r -> { });
    }

    /**
     * As {@link #manifest(RepoTarget.Proxied, Reference, AcceptedTypes)}, telling {@code outcome}
     * (before the future completes, on whichever thread decided) what the cache did.
     */
    public CompletableFuture<ManifestContent> manifest(RepoTarget.Proxied target, Reference ref, AcceptedTypes accept,
                                                       Consumer<CacheResult> outcome) {
        if (offload()) {
            return onStorage(() -> manifestHere(target, ref, accept, outcome));
        }
        return manifestHere(target, ref, accept, outcome);
    }

    private CompletableFuture<ManifestContent> manifestHere(RepoTarget.Proxied target, Reference ref,
                                                            AcceptedTypes accept, Consumer<CacheResult> outcome) {
        try {
            return manifests.get(requireNonNull(target, "target"), requireNonNull(ref, "ref"),
                    requireNonNull(accept, "accept"), requireNonNull(outcome, "outcome")).thenApply(content -> {
                        access.accessed(content.digest()); // the eviction order, throttled
                        return content;
                    });
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Where to read blob {@code digest} of the proxied repository from. Fails like
     * {@link #manifest}, with BLOB_UNKNOWN for a 404.
     */
    public CompletableFuture<BlobSource> blob(RepoTarget.Proxied target, Digest digest) {
        return blob(target, digest, r -> { });
    }

    /**
     * As {@link #blob(RepoTarget.Proxied, Digest)}, telling {@code outcome} what the cache did.
     * Cancelling the future says the client left: a download that waits for one of the upstream's
     * {@code maxConnections} and that nobody else wants leaves the queue.
     */
    public CompletableFuture<BlobSource> blob(RepoTarget.Proxied target, Digest digest, Consumer<CacheResult> outcome) {
        return blob(target, digest, outcome, false);
    }

    /**
     * As {@link #blob(RepoTarget.Proxied, Digest)} for background work (prefetch): its download
     * waits behind clients' for the upstream's {@code maxConnections}.
     */
    public CompletableFuture<BlobSource> prefetchBlob(RepoTarget.Proxied target, Digest digest) {
        return blob(target, digest, r -> { }, true);
    }

    private CompletableFuture<BlobSource> blob(RepoTarget.Proxied target, Digest digest, Consumer<CacheResult> outcome,
                                               boolean background) {
        if (offload()) {
            return onStorage(() -> blobHere(target, digest, outcome, background));
        }
        return blobHere(target, digest, outcome, background);
    }

    private CompletableFuture<BlobSource> blobHere(RepoTarget.Proxied target, Digest digest,
                                                   Consumer<CacheResult> outcome, boolean background) {
        try {
            Optional<BlobInfo> local = blobs.stat(digest);
            if (local.isPresent()) {
                outcome.accept(CacheResult.HIT);
                link(target.repo(), digest);
                access.accessed(digest);
                return CompletableFuture.completedFuture(new BlobSource.Stored(local.get()));
            }
            Optional<BlobSource> shared = shared(digest);
            if (shared.isPresent()) { // another replica stored it: streamed from the shared store, not the upstream
                outcome.accept(CacheResult.HIT);
                link(target.repo(), digest);
                access.accessed(digest);
                return CompletableFuture.completedFuture(shared.get());
            }
            String key = target.repo() + "@" + digest;
            if (blobNotFound.getIfPresent(key) != null) {
                counters.negativeHits.increment();
                outcome.accept(CacheResult.NEGATIVE);
                return CompletableFuture.failedFuture(OciError.BLOB_UNKNOWN.exception(describe(target, digest)
                        + " not found at upstream '" + target.upstream().name() + "' (cached answer)"));
            }
            BlobFetch fetch = fetches.join(digest, client(target), target.upstreamRepo(), outcome, background);
            if (fetch == null) { // committed just now
                return blobHere(target, digest, outcome, background);
            }
            fetch.committed().thenRun(() -> link(target.repo(), digest));
            CompletableFuture<BlobSource> answer = fetch.started().thenCompose(length -> length >= 0
                            ? CompletableFuture.<BlobSource>completedFuture(new BlobSource.Downloading(fetch))
                            // No declared length, so no Content-Length to answer with until it is all in.
                            : fetch.committed().thenApply(BlobSource.Stored::new))
                    .exceptionallyCompose(e -> {
                        if (UpstreamFailures.isNotFound(e)) {
                            blobNotFound.put(key, Boolean.TRUE);
                        }
                        return CompletableFuture.failedFuture(UpstreamFailures.toOci(e, target.upstream().name(),
                                OciError.BLOB_UNKNOWN, describe(target, digest)));
                    });
            if (!background) {
                answer.whenComplete((v, e) -> {
                    if (answer.isCancelled()) {
                        fetch.unwant();
                    }
                });
            }
            return answer;
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * A page of the proxied repository's tags as the upstream lists them ({@code n} and
     * {@code last} as in {@link ocimirror.server.route.OciRoute.Tags}), cached for the upstream's
     * {@code tagTtl}. Fails like {@link #manifest}, with NAME_UNKNOWN for a 404.
     */
    public CompletableFuture<TagPage> tags(RepoTarget.Proxied target, int n, String last,
                                           Consumer<CacheResult> outcome) {
        if (offload()) {
            return onStorage(() -> listings.tags(requireNonNull(target, "target"), n, last,
                    requireNonNull(outcome, "outcome")));
        }
        try {
            return listings.tags(requireNonNull(target, "target"), n, last, requireNonNull(outcome, "outcome"));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * The referrers of {@code subject} in the proxied repository as the upstream lists them (or
     * its referrers tag, for an upstream without the referrers API), cached for its {@code tagTtl}.
     */
    public CompletableFuture<ReferrersPage> referrers(RepoTarget.Proxied target, Digest subject, String artifactType,
                                                      Consumer<CacheResult> outcome) {
        if (offload()) {
            return onStorage(() -> listings.referrers(requireNonNull(target, "target"),
                    requireNonNull(subject, "subject"), artifactType, requireNonNull(outcome, "outcome")));
        }
        try {
            return listings.referrers(requireNonNull(target, "target"), requireNonNull(subject, "subject"),
                    artifactType, requireNonNull(outcome, "outcome"));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The blob downloads in progress (for tests and metrics). */
    public InflightFetches inflight() {
        return fetches;
    }

    public PullThroughStats stats() {
        return new PullThroughStats(counters.staleServed.sum(), counters.manifestGets.sum(),
                counters.manifestHeads.sum(), counters.coalesced.sum(), counters.negativeHits.sum(),
                fetches.startedCount(), counters.prefetches.sum(),
                counters.invalidManifests.values().stream().mapToLong(LongAdder::sum).sum());
    }

    /** Answers of {@code upstream} to manifest requests that were refused as not a manifest. */
    public long invalidManifests(String upstream) {
        return counters.invalidManifests(upstream);
    }

    /** The names of the upstreams this service has a client for. */
    public List<String> upstreamNames() {
        return clients.all().stream().map(UpstreamClient::name).toList();
    }

    /** Stops prefetching and cancels the downloads in progress (their ingest files are discarded). */
    @Override
    public void close() {
        prefetcher.close();
        fetches.close();
    }

    private UpstreamClient client(RepoTarget.Proxied target) {
        return clients.get(target.upstream().name()).orElseThrow(() -> OciError.UNAVAILABLE.exception(
                "no client for upstream '" + target.upstream().name() + "'"));
    }

    private void fetched(ManifestPuller.Fetched f) {
        if (!settings.prefetchLayers()) {
            return;
        }
        if (f.facts().index()) {
            prefetchPlatforms(f);
        } else if (!f.facts().blobs().isEmpty()) {
            counters.prefetches.add(prefetcher.submit(f.target(), f.facts().blobs()));
        }
    }

    /**
     * The index's images for {@link Settings#prefetchPlatforms}: each manifest is fetched as a
     * client's would be, and its own fetch queues its config and layers. Other platforms (and
     * attestation entries, {@code unknown/unknown}) are left alone; the index is untouched.
     */
    private void prefetchPlatforms(ManifestPuller.Fetched f) {
        for (ManifestFacts.Child child : f.facts().children()) {
            if (settings.prefetchPlatforms().stream().noneMatch(p -> p.matches(child.platform()))) {
                continue;
            }
            try {
                // Not inline: this runs within the index's own fetch.
                storage.execute(() -> manifest(f.target(), new Reference.ByDigest(child.digest()), AcceptedTypes.all())
                        .whenComplete((m, e) -> {
                            if (e != null) {
                                log.debug("prefetch of {}@{} failed: {}", f.target().repo(), child.digest(),
                                        e.toString());
                            }
                        }));
            } catch (RejectedExecutionException e) {
                log.debug("prefetch of {}@{} skipped: storage executor saturated", f.target().repo(), child.digest());
            }
        }
    }

    private CompletableFuture<?> prefetchOne(RepoTarget.Proxied target, Digest digest) {
        return prefetchBlob(target, digest).thenCompose(source -> source instanceof BlobSource.Downloading d
                ? d.fetch().committed() : CompletableFuture.completedFuture(null));
    }

    /**
     * Whether to leave the calling thread (an event loop) before the first lookup: with a metadata
     * store whose reads may block (PostgreSQL behind a cache, shared by replicas), a miss is a
     * network round trip, so the whole request starts on the storage executor. A local store's
     * lookups stay on the calling thread, as they always have.
     */
    private boolean offload() {
        return metadata.mayBlock() && !onStorageThread.get();
    }

    /**
     * {@code work} on the storage executor. Cancelling the returned future cancels the one
     * {@code work} made (a client that leaves takes its queued download out of the upstream's
     * {@code maxConnections} queue), in either order: a cancel that comes before {@code work}
     * returned is passed on once it has.
     */
    private <T> CompletableFuture<T> onStorage(Supplier<CompletableFuture<T>> work) {
        CompletableFuture<T> outer = new CompletableFuture<>();
        AtomicReference<CompletableFuture<T>> inner = new AtomicReference<>();
        try {
            CompletableFuture.supplyAsync(() -> {
                onStorageThread.set(true);
                try {
                    CompletableFuture<T> f = work.get();
                    inner.set(f);
                    if (outer.isCancelled()) {
                        f.cancel(false);
                    }
                    return f;
                } finally {
                    onStorageThread.set(false);
                }
            }, storage).thenCompose(f -> f).whenComplete((v, e) -> {
                if (e != null) {
                    outer.completeExceptionally(e);
                } else {
                    outer.complete(v);
                }
            });
        } catch (RuntimeException e) { // the executor is saturated
            return CompletableFuture.failedFuture(OciError.UNAVAILABLE.exception("the storage executor is busy"));
        }
        outer.whenComplete((v, e) -> {
            CompletableFuture<T> f = inner.get();
            if (outer.isCancelled() && f != null) {
                f.cancel(false);
            }
        });
        return outer;
    }

    /**
     * A blob this replica does not hold but the shared store does (another replica recorded it):
     * its copy into this replica's tier, streamed as it fills, or the tier's file if the copy
     * finished meanwhile. Empty with a local store, for a blob nobody recorded, or one the shared
     * store lacks. Storage thread (a metadata read and a HEAD on S3).
     */
    private Optional<BlobSource> shared(Digest digest) {
        if (!metadata.mayBlock() || metadata.getBlob(digest).isEmpty()) {
            return Optional.empty();
        }
        try {
            Optional<GrowingBlob> copy = blobs.copying(digest);
            if (copy.isPresent()) {
                return Optional.of(new BlobSource.Copying(copy.get()));
            }
            return blobs.stat(digest).map(BlobSource.Stored::new);
        } catch (IOException e) {
            throw OciError.UNAVAILABLE.exception("the shared blob store failed for " + digest + ": " + e.getMessage());
        }
    }

    /** Records a committed download in the metadata; storage thread. */
    private void recordBlob(BlobInfo info) {
        records.recordBlob(info, null);
    }

    /** Links {@code digest} into {@code repo} (which repository may serve it, for GC later) unless it is. */
    private void link(RepoName repo, Digest digest) {
        if (metadata.isBlobLinked(repo, digest)) {
            return;
        }
        try {
            storage.execute(() -> {
                try {
                    if (blobs.stat(digest).isEmpty() && (!metadata.mayBlock() || metadata.getBlob(digest).isEmpty())) {
                        return; // evicted meanwhile: a link would point at nothing
                    }
                    metadata.linkBlob(repo, digest);
                } catch (RuntimeException e) {
                    log.warn("could not link {} into {}: {}", digest, repo, e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            log.debug("link of {} into {} skipped: storage executor saturated", digest, repo);
        }
    }

    private static String describe(RepoTarget.Proxied target, Digest digest) {
        return "blob " + target.upstreamRepo() + "@" + digest;
    }
}
