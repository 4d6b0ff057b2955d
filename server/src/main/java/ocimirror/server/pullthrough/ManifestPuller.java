package ocimirror.server.pullthrough;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.server.upstream.UpstreamManifest;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Manifests of proxied repositories: cache, revalidation, coalescing, negative cache. See
 * {@link PullThroughService} for the rules; this class is its manifest half.
 */
final class ManifestPuller {
    private static final Logger log = LoggerFactory.getLogger(ManifestPuller.class);
    /** Tag resolutions of non-full clients, kept in memory only. */
    private static final int NARROW_TAGS = 10_000;
    private static final int NEGATIVE_ENTRIES = 100_000;
    /**
     * After an outage answer, stale tags of that upstream are served without asking it for this
     * long: a blackholed upstream would otherwise cost every request a connect timeout.
     */
    static final Duration OUTAGE_HOLD = Duration.ofSeconds(10);

    private final BlobStore blobs;
    private final MetadataStore metadata;
    private final Executor storage;
    private final Clock clock;
    private final CacheRecords records;
    private final Counters counters;
    private final Function<RepoTarget.Proxied, UpstreamClient> clients;
    private final Consumer<Fetched> onFetched;
    private final ConcurrentHashMap<Key, CompletableFuture<ManifestContent>> inflight = new ConcurrentHashMap<>();
    private final Cache<Key, TagRecord> narrowTags;
    private final Cache<Key, Boolean> notFound;
    /** Upstream name → epoch millis until which it is taken to be out. */
    private final ConcurrentHashMap<String, Long> outUntil = new ConcurrentHashMap<>();

    /** A manifest request as far as caching goes: the local repository, the reference, the client's Accept class. */
    record Key(RepoName repo, String reference, String accept) {
    }

    /** A manifest just fetched from upstream and stored (for prefetch). */
    record Fetched(RepoTarget.Proxied target, ManifestFacts facts) {
    }

    ManifestPuller(BlobStore blobs, MetadataStore metadata, Executor storage, Clock clock, Duration negativeTtl,
                   Counters counters, Function<RepoTarget.Proxied, UpstreamClient> clients, Consumer<Fetched> onFetched) {
        this.blobs = blobs;
        this.metadata = metadata;
        this.storage = storage;
        this.clock = clock;
        this.records = new CacheRecords(blobs, metadata, clock);
        this.counters = counters;
        this.clients = clients;
        this.onFetched = onFetched;
        // Caffeine measures time with the injected clock, so that tests move it instead of sleeping.
        Ticker ticker = () -> {
            Instant now = clock.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        };
        this.narrowTags = Caffeine.newBuilder().maximumSize(NARROW_TAGS).ticker(ticker).build();
        this.notFound = Caffeine.newBuilder().maximumSize(NEGATIVE_ENTRIES).ticker(ticker)
                .expireAfterWrite(negativeTtl).build();
    }

    /** {@code outcome} hears what the cache did before the future completes. */
    CompletableFuture<ManifestContent> get(RepoTarget.Proxied t, Reference ref, AcceptedTypes accept,
                                           Consumer<CacheResult> outcome) {
        Key key = new Key(t.repo(), ref.toString(), accept.key());
        if (ref instanceof Reference.ByDigest d) {
            // Immutable: once stored, never asked for again.
            Optional<ManifestContent> local = stored(t.repo(), d.digest());
            if (local.isPresent()) {
                outcome.accept(CacheResult.HIT);
                return CompletableFuture.completedFuture(local.get());
            }
        } else {
            TagRecord rec = tagRecord(t, key, accept);
            if (rec != null && fresh(rec, t)) {
                Optional<ManifestContent> local = stored(t.repo(), rec.digest());
                if (local.isPresent()) {
                    outcome.accept(CacheResult.HIT);
                    return CompletableFuture.completedFuture(local.get());
                }
            }
        }
        if (notFound.getIfPresent(key) != null) {
            counters.negativeHits.increment();
            outcome.accept(CacheResult.NEGATIVE);
            return CompletableFuture.failedFuture(OciError.MANIFEST_UNKNOWN.exception(describe(t, ref)
                    + " not found at upstream '" + t.upstream().name() + "' (cached answer)"));
        }
        return coalesce(key, outcome, () -> ref instanceof Reference.Tag
                ? revalidate(t, ref, accept, key, outcome)
                : fetch(t, ref, accept, key, null, outcome));
    }

    /** The tag resolution this client may be served, or null. */
    private TagRecord tagRecord(RepoTarget.Proxied t, Key key, AcceptedTypes accept) {
        if (!accept.full()) {
            TagRecord narrow = narrowTags.getIfPresent(key);
            if (narrow != null) {
                return narrow;
            }
        }
        return metadata.getTag(t.repo(), key.reference()).filter(r -> accept.accepts(r.mediaType())).orElse(null);
    }

    private boolean fresh(TagRecord rec, RepoTarget.Proxied t) {
        long age = clock.millis() - rec.checkedAt();
        return age >= 0 && age < t.upstream().tagTtl().toMillis();
    }

    private Optional<ManifestContent> stored(RepoName repo, Digest digest) {
        return metadata.getManifest(repo, digest)
                .flatMap(m -> content(digest).map(c -> ManifestContent.of(digest, m.mediaType(), c)));
    }

    private Optional<ocimirror.storage.blob.BlobContent> content(Digest digest) {
        return ocimirror.server.registry.ManifestBytes.read(blobs, metadata.mayBlock(), digest);
    }

    /** One upstream round per key at a time: later requests get the first one's outcome. */
    private CompletableFuture<ManifestContent> coalesce(Key key, Consumer<CacheResult> outcome,
                                                        Supplier<CompletableFuture<ManifestContent>> op) {
        CompletableFuture<ManifestContent> mine = new CompletableFuture<>();
        CompletableFuture<ManifestContent> leader = inflight.putIfAbsent(key, mine);
        if (leader != null) {
            counters.coalesced.increment();
            outcome.accept(CacheResult.COALESCED);
            return leader.copy();
        }
        CompletableFuture<ManifestContent> work;
        try {
            work = op.get();
        } catch (RuntimeException e) {
            work = CompletableFuture.failedFuture(e);
        }
        work.whenComplete((v, e) -> {
            inflight.remove(key, mine); // failures are not remembered here (404s are, in notFound)
            if (e != null) {
                mine.completeExceptionally(UpstreamFailures.unwrap(e));
            } else {
                mine.complete(v);
            }
        });
        return mine.copy();
    }

    /** A tag whose cached resolution is stale or missing: HEAD if there is one, else GET. */
    private CompletableFuture<ManifestContent> revalidate(RepoTarget.Proxied t, Reference ref, AcceptedTypes accept,
                                                          Key key, Consumer<CacheResult> outcome) {
        TagRecord rec = tagRecord(t, key, accept);
        ManifestContent local = rec == null ? null : stored(t.repo(), rec.digest()).orElse(null);
        if (local == null) {
            return fetch(t, ref, accept, key, null, outcome);
        }
        if (fresh(rec, t)) {
            outcome.accept(CacheResult.HIT);
            return CompletableFuture.completedFuture(local); // revalidated by the round just before
        }
        if (clock.millis() < outUntil.getOrDefault(t.upstream().name(), Long.MIN_VALUE)) {
            counters.staleServed.increment();
            outcome.accept(CacheResult.STALE);
            return CompletableFuture.completedFuture(local);
        }
        counters.manifestHeads.increment();
        return clients.apply(t).headManifest(t.upstreamRepo(), ref, accept.forward()).handle((head, err) -> {
            if (err != null) {
                outcome.accept(CacheResult.MISS); // STALE instead if the fallback serves the cached copy
                return fallback(err, t, ref, key, local, outcome);
            }
            if (rec.digest().equals(head.digest())) {
                outcome.accept(CacheResult.HIT);
                return touch(t, key, accept, rec).thenApply(v -> local);
            }
            // Moved, or no Docker-Content-Digest to compare: fetch it.
            return fetch(t, ref, accept, key, local, outcome);
        }).thenCompose(f -> f);
    }

    /** GETs the manifest and stores it; on an outage serves {@code stale} if there is one. */
    private CompletableFuture<ManifestContent> fetch(RepoTarget.Proxied t, Reference ref, AcceptedTypes accept,
                                                     Key key, ManifestContent stale, Consumer<CacheResult> outcome) {
        counters.manifestGets.increment();
        outcome.accept(CacheResult.MISS);
        return clients.apply(t).getManifest(t.upstreamRepo(), ref, accept.forward())
                .thenApplyAsync(m -> store(t, ref, accept, key, m), storage)
                .handle((content, err) -> err == null ? CompletableFuture.completedFuture(content)
                        : fallback(err, t, ref, key, stale, outcome))
                .thenCompose(f -> f);
    }

    /** Runs once per upstream round (coalesced requests share it), so whatever it logs is logged once per fetch. */
    private CompletableFuture<ManifestContent> fallback(Throwable err, RepoTarget.Proxied t, Reference ref, Key key,
                                                        ManifestContent stale, Consumer<CacheResult> outcome) {
        if (UpstreamFailures.isOutage(err)) {
            long now = clock.millis();
            Long before = outUntil.put(t.upstream().name(), now + OUTAGE_HOLD.toMillis());
            if (before == null || before < now) { // once per outage, not once per request
                log.warn("upstream '{}' is out ({}); serving cached manifests without revalidating them for {} s",
                        t.upstream().name(), UpstreamFailures.unwrap(err).getMessage(), OUTAGE_HOLD.toSeconds());
            }
        }
        if (stale != null && UpstreamFailures.isOutage(err)) {
            counters.staleServed.increment();
            outcome.accept(CacheResult.STALE);
            return CompletableFuture.completedFuture(stale);
        }
        if (UpstreamFailures.isNotFound(err)) {
            notFound.put(key, Boolean.TRUE);
        } else if (!UpstreamFailures.isOutage(err)) {
            // Refused credentials, a response the mirror cannot use, content that does not match
            // its digest: the operator has something to fix, and the client only sees the code.
            log.warn("upstream '{}': {} failed: {}", t.upstream().name(), describe(t, ref),
                    UpstreamFailures.unwrap(err).getMessage());
        }
        return CompletableFuture.failedFuture(UpstreamFailures.toOci(err, t.upstream().name(),
                OciError.MANIFEST_UNKNOWN, describe(t, ref)));
    }

    /** Same digest upstream: the cached resolution is good for another TTL. */
    private CompletableFuture<Void> touch(RepoTarget.Proxied t, Key key, AcceptedTypes accept, TagRecord rec) {
        TagRecord touched = new TagRecord(rec.digest(), rec.mediaType(), rec.size(), rec.fetchedAt(), clock.millis());
        if (!accept.full()) {
            narrowTags.put(key, touched);
            return CompletableFuture.completedFuture(null);
        }
        return CompletableFuture.runAsync(() -> metadata.putTag(t.repo(), key.reference(), touched), storage)
                .exceptionally(e -> {
                    log.warn("could not record the revalidation of {}: {}", describe(t, key.reference()), e.toString());
                    return null;
                });
    }

    /**
     * Checks that the upstream's bytes are a manifest and match the digests it claimed, and stores
     * them as they are. Storage executor.
     */
    private ManifestContent store(RepoTarget.Proxied t, Reference ref, AcceptedTypes accept, Key key,
                                  UpstreamManifest m) {
        byte[] body = m.body();
        UpstreamManifestCheck.Manifest checked;
        try {
            checked = UpstreamManifestCheck.check(body, m.contentType());
        } catch (UpstreamManifestCheck.NotAManifest e) {
            // A captive portal or a proxy's page, not the registry: an outage (stale copies are
            // served), and nothing of it is stored or remembered.
            counters.invalidManifest(t.upstream().name());
            throw new UpstreamException(UpstreamException.Kind.INVALID_MANIFEST, "upstream '" + t.upstream().name()
                    + "' answered the manifest request for " + t.upstreamRepo() + separator(ref) + ref + " with "
                    + e.getMessage());
        }
        Digest digest = null;
        if (ref instanceof Reference.ByDigest d) {
            verify(t, ref, d.digest(), body, "the requested digest");
            digest = d.digest();
        }
        Digest header = m.dockerContentDigest();
        if (header != null) {
            verify(t, ref, header, body, "its Docker-Content-Digest");
            digest = digest == null ? header : digest;
        }
        if (digest == null) {
            digest = Digest.sha256(body);
        }
        ManifestFacts facts = ManifestFacts.of(checked.root(), checked.mediaType());
        ManifestContent content;
        // Held while stored and recorded, so that an eviction of these bytes (cached under another
        // repository) finishes first or waits: never a record written for a file about to go.
        try (BlobHolds.Hold hold = blobs.holds().hold(digest)) {
            content = records.storeManifest(t.repo(), digest, body, facts);
            long now = clock.millis();
            if (ref instanceof Reference.Tag tag) {
                TagRecord rec = new TagRecord(digest, facts.mediaType(), body.length, now, now);
                // Only a full client's answer is the tag's true object; a narrower one stays in memory.
                if (accept.full()) {
                    metadata.putTag(t.repo(), tag.name(), rec);
                } else {
                    narrowTags.put(key, rec);
                }
            }
        }
        onFetched.accept(new Fetched(t, facts));
        return content;
    }

    private static void verify(RepoTarget.Proxied t, Reference ref, Digest expected, byte[] body, String what) {
        Digest actual = Digest.of(expected.algorithm(), body);
        if (!actual.equals(expected)) {
            throw OciError.UNAVAILABLE.exception("upstream '" + t.upstream().name() + "' sent " + describe(t, ref)
                    + " whose content is " + actual + ", not " + what + " " + expected + "; not cached");
        }
    }

    private static String describe(RepoTarget.Proxied t, Object ref) {
        return "manifest " + t.upstreamRepo() + separator(ref) + ref;
    }

    private static String separator(Object ref) {
        return ref.toString().indexOf(':') >= 0 ? "@" : ":";
    }
}
