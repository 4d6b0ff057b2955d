package ocimirror.server.pullthrough;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import ocimirror.server.registry.ReferrersIndex;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.server.upstream.UpstreamListing;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.Page;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * {@code tags/list} and {@code referrers} of proxied repositories: asked of the upstream, the
 * answer kept in memory and served without asking again for the upstream's {@code tagTtl}.
 * When the upstream is out, the last answer is served stale (counted as for manifests); with
 * none in memory (after a restart), what the store holds: the tags pulled so far, the referrers
 * pulled so far plus a cached referrers tag. Concurrent requests for one listing share one
 * upstream request.
 *
 * <p>Referrers of an upstream without the referrers API (a 404, as distribution 2.8 answers)
 * come from the spec's fallback, the referrers tag {@code <alg>-<hex>} of the subject, fetched
 * and cached as any tag is; no such tag means no referrers. The mirror answers the referrers
 * API itself in both cases: a client gets an index, never the 404 that would send it to the
 * tag itself.
 *
 * <p>Tags come sorted and paged by the mirror when the upstream did not page them (distribution
 * 2.8 ignores {@code n} and {@code last} and sends its tags unsorted); an upstream's own next
 * page is passed on. An upstream's referrers pages are followed (their links are opaque, so the
 * mirror cannot page them in its own terms) and served merged, as one index.
 */
final class UpstreamListings {
    /** Memory for listings, by their bytes: a tag list of 10 000 tags is about 200 KiB. */
    static final long MAX_BYTES = 32L << 20;
    /** The most pages of one upstream referrers listing followed, and their total size. */
    static final int MAX_REFERRER_PAGES = 100;
    static final long MAX_REFERRERS_BYTES = 16L << 20;
    private static final JsonMapper JSON = new JsonMapper();

    private final BlobStore blobs;
    private final MetadataStore metadata;
    private final Executor storage;
    private final Clock clock;
    private final Counters counters;
    private final Function<RepoTarget.Proxied, UpstreamClient> clients;
    private final ManifestSource manifests;
    private final Cache<Key, Entry> answers;
    private final ConcurrentHashMap<Key, CompletableFuture<Object>> inflight = new ConcurrentHashMap<>();

    /** A manifest of a proxied repository, through the pull-through cache (for the referrers tag). */
    interface ManifestSource {
        CompletableFuture<ManifestContent> get(RepoTarget.Proxied target, Reference ref);
    }

    /** One listing: the local repository, which listing, and its parameters. */
    private record Key(RepoName repo, String kind, String a, String b) {
    }

    /** An upstream's answer and when it came. */
    private record Entry(Object value, long fetchedAt, int weight) {
    }

    UpstreamListings(BlobStore blobs, MetadataStore metadata, Executor storage, Clock clock, Counters counters,
                     Function<RepoTarget.Proxied, UpstreamClient> clients, ManifestSource manifests) {
        this.blobs = blobs;
        this.metadata = metadata;
        this.storage = storage;
        this.clock = clock;
        this.counters = counters;
        this.clients = clients;
        this.manifests = manifests;
        // No expiry: an old answer is what an outage is served. Bounded by weight instead.
        this.answers = Caffeine.newBuilder().maximumWeight(MAX_BYTES).weigher((Key k, Entry e) -> e.weight())
                .ticker(() -> {
                    Instant now = clock.instant();
                    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
                }).build();
    }

    CompletableFuture<TagPage> tags(RepoTarget.Proxied t, int n, String last, Consumer<CacheResult> outcome) {
        Key key = new Key(t.repo(), "tags", Integer.toString(n), last);
        return get(key, t, outcome,
                () -> clients.apply(t).listTags(t.upstreamRepo(), n == OciRoute.ALL ? -1 : n, last)
                        .thenApply(l -> tagPage(t, l, n, last)),
                () -> localTags(t, n, last),
                p -> 64 + p.tags().stream().mapToInt(s -> 40 + 2 * s.length()).sum(),
                "the tags of " + t.upstreamRepo());
    }

    CompletableFuture<ReferrersPage> referrers(RepoTarget.Proxied t, Digest subject, String artifactType,
                                               Consumer<CacheResult> outcome) {
        Key key = new Key(t.repo(), "referrers", subject.toString(), artifactType);
        return get(key, t, outcome,
                () -> clients.apply(t).referrers(t.upstreamRepo(), subject, artifactType)
                        .thenCompose(l -> l.link() == null
                                ? CompletableFuture.completedFuture(referrersPage(t, l, artifactType))
                                : allReferrers(t, subject, artifactType, l))
                        .exceptionallyCompose(e -> UpstreamFailures.isNotFound(e)
                                ? fromReferrersTag(t, subject, artifactType)
                                : CompletableFuture.failedFuture(UpstreamFailures.unwrap(e))),
                () -> localReferrers(t, subject, artifactType),
                p -> 64 + p.index().length,
                "the referrers of " + t.upstreamRepo() + "@" + subject);
    }

    /**
     * The fresh answer, else the upstream's (one request per key at a time), else on an outage
     * the last answer or the store's ({@code local}, null if it has none).
     */
    @SuppressWarnings("unchecked")
    private <V> CompletableFuture<V> get(Key key, RepoTarget.Proxied t, Consumer<CacheResult> outcome,
                                         Supplier<CompletableFuture<V>> upstream, Supplier<V> local,
                                         ToIntFunction<V> weight, String what) {
        Entry cached = answers.getIfPresent(key);
        long now = clock.millis();
        if (cached != null && now - cached.fetchedAt() >= 0
                && now - cached.fetchedAt() < t.upstream().tagTtl().toMillis()) {
            outcome.accept(CacheResult.HIT);
            return CompletableFuture.completedFuture((V) cached.value());
        }
        CompletableFuture<Object> mine = new CompletableFuture<>();
        CompletableFuture<Object> leader = inflight.putIfAbsent(key, mine);
        if (leader != null) {
            // Not in counters.coalesced: that is the manifests' (ocimirror_cache_coalesced_total{kind="manifest"}).
            outcome.accept(CacheResult.COALESCED);
            return leader.copy().thenApply(v -> (V) v);
        }
        CompletableFuture<V> work;
        try {
            work = upstream.get();
        } catch (RuntimeException e) {
            work = CompletableFuture.failedFuture(e);
        }
        work.handle((v, err) -> {
            if (err == null) {
                answers.put(key, new Entry(v, clock.millis(), weight.applyAsInt(v)));
                outcome.accept(CacheResult.MISS);
                return CompletableFuture.completedFuture(v);
            }
            if (!isOutage(err)) {
                outcome.accept(CacheResult.MISS);
                return CompletableFuture.<V>failedFuture(UpstreamFailures.toOci(err, t.upstream().name(),
                        OciError.NAME_UNKNOWN, what));
            }
            Entry stale = answers.getIfPresent(key);
            if (stale != null) {
                counters.staleServed.increment();
                outcome.accept(CacheResult.STALE);
                return CompletableFuture.completedFuture((V) stale.value());
            }
            return CompletableFuture.supplyAsync(local, storage).thenCompose(l -> {
                if (l == null) {
                    outcome.accept(CacheResult.MISS);
                    return CompletableFuture.<V>failedFuture(UpstreamFailures.toOci(err, t.upstream().name(),
                            OciError.NAME_UNKNOWN, what));
                }
                counters.staleServed.increment();
                outcome.accept(CacheResult.STALE);
                return CompletableFuture.completedFuture(l);
            });
        }).thenCompose(f -> f).whenComplete((v, e) -> {
            inflight.remove(key, mine);
            if (e != null) {
                mine.completeExceptionally(UpstreamFailures.unwrap(e));
            } else {
                mine.complete(v);
            }
        });
        return mine.copy().thenApply(v -> (V) v);
    }

    /** An outage, also when it reached here as the manifest half's 503 (the referrers tag's fetch). */
    private static boolean isOutage(Throwable err) {
        return UpstreamFailures.isOutage(err)
                || UpstreamFailures.unwrap(err) instanceof OciException o && o.error() == OciError.UNAVAILABLE;
    }

    // --- tags ---

    private static TagPage tagPage(RepoTarget.Proxied t, UpstreamListing l, int n, String last) {
        List<String> tags = new ArrayList<>();
        JsonNode list = parse(t, l, "tags/list").get("tags");
        if (list != null && list.isArray()) {
            list.forEach(tag -> {
                if (tag.isTextual() && Reference.Tag.isValid(tag.asText())) {
                    tags.add(tag.asText());
                }
            });
        }
        tags.sort(null); // the spec's order; distribution 2.8 sends its tags unsorted
        if (l.link() != null) {
            // The upstream paged: its next page, in the mirror's terms (n and last are all it forwards).
            String nextLast = query(l.link(), "last");
            String nextN = query(l.link(), "n");
            int size = nextN != null && nextN.matches("[0-9]{1,6}") ? Integer.parseInt(nextN) : n;
            return new TagPage(tags, size, nextLast != null && Reference.Tag.isValid(nextLast) && !tags.isEmpty()
                    ? nextLast : null);
        }
        // All of them (after last, if the upstream honoured it): paged here.
        if (last != null) {
            tags.removeIf(tag -> tag.compareTo(last) <= 0);
        }
        if (n == 0) {
            return new TagPage(List.of(), 0, null);
        }
        if (n != OciRoute.ALL && tags.size() > n) {
            List<String> page = tags.subList(0, n);
            return new TagPage(page, n, page.get(n - 1));
        }
        return new TagPage(tags, n, null);
    }

    /** The tags cached so far; null if none. Storage executor. */
    private TagPage localTags(RepoTarget.Proxied t, int n, String last) {
        if (!metadata.repositoryExists(t.repo())) {
            return null;
        }
        int size = n == OciRoute.ALL ? OciRouteParser.MAX_PAGE : n;
        Page<String> page = metadata.listTags(t.repo(), last, size);
        if (page.items().isEmpty() && last == null) {
            return null;
        }
        return new TagPage(page.items(), size, page.more() && !page.items().isEmpty()
                ? page.items().get(page.items().size() - 1) : null);
    }

    /** The value of {@code name} in the query of the URL of a {@code Link} header, or null. */
    static String query(String link, String name) {
        int open = link.indexOf('<');
        int close = link.indexOf('>', open + 1);
        if (open < 0 || close < 0) {
            return null;
        }
        String q;
        try {
            q = URI.create(link.substring(open + 1, close).trim()).getRawQuery();
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (q == null) {
            return null;
        }
        for (String pair : q.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).equals(name)) {
                try {
                    return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                } catch (IllegalArgumentException e) {
                    return null;
                }
            }
        }
        return null;
    }

    // --- referrers ---

    private static ReferrersPage referrersPage(RepoTarget.Proxied t, UpstreamListing l, String artifactType) {
        JsonNode index = parse(t, l, "referrers");
        boolean filtered = l.filtersApplied() != null && l.filtersApplied().contains("artifactType");
        if (artifactType == null || filtered) {
            return new ReferrersPage(l.body(), artifactType != null);
        }
        // The upstream did not filter: the mirror does, so the client can rely on the header.
        return new ReferrersPage(new ReferrersIndex(artifactType).addAll(index).bytes(), true);
    }

    /**
     * An upstream that pages its referrers: its pages followed (each {@code Link} checked by the
     * client) and merged into one index, so that a client sees every signature, not the first page's.
     * The mirror answers unpaged, as it does for hosted repositories. Bounded by {@link #MAX_REFERRER_PAGES}
     * and {@link #MAX_REFERRERS_BYTES}: an upstream that pages on beyond them is a protocol error.
     */
    private CompletableFuture<ReferrersPage> allReferrers(RepoTarget.Proxied t, Digest subject, String artifactType,
                                                          UpstreamListing first) {
        ReferrersIndex index = new ReferrersIndex(artifactType);
        CompletableFuture<ReferrersPage> done = new CompletableFuture<>();
        class Pages {
            int pages;
            long bytes;

            void add(UpstreamListing l) {
                pages++;
                bytes += l.body().length;
                index.addAll(parse(t, l, "referrers"));
                if (l.link() == null) {
                    done.complete(new ReferrersPage(index.bytes(), artifactType != null));
                } else if (pages >= MAX_REFERRER_PAGES || bytes > MAX_REFERRERS_BYTES) {
                    done.completeExceptionally(new UpstreamException(UpstreamException.Kind.PROTOCOL, "upstream '"
                            + t.upstream().name() + "' pages the referrers of " + t.upstreamRepo() + "@" + subject
                            + " beyond " + pages + " pages (" + bytes + " bytes)"));
                } else {
                    clients.apply(t).referrersPage(t.upstreamRepo(), subject, l.link()).whenComplete((next, e) -> {
                        if (e != null) {
                            done.completeExceptionally(UpstreamFailures.unwrap(e));
                        } else {
                            next(next);
                        }
                    });
                }
            }

            void next(UpstreamListing l) {
                try {
                    add(l);
                } catch (RuntimeException e) {
                    done.completeExceptionally(e);
                }
            }
        }
        new Pages().next(first);
        return done;
    }

    /** The spec's fallback for an upstream without the referrers API: the subject's referrers tag. */
    private CompletableFuture<ReferrersPage> fromReferrersTag(RepoTarget.Proxied t, Digest subject,
                                                              String artifactType) {
        return manifests.get(t, new Reference.Tag(referrersTag(subject))).handle((content, err) -> {
            ReferrersIndex index = new ReferrersIndex(artifactType);
            if (err != null) {
                if (UpstreamFailures.unwrap(err) instanceof OciException o && o.error() == OciError.MANIFEST_UNKNOWN) {
                    return new ReferrersPage(index.bytes(), artifactType != null); // no tag: no referrers
                }
                throw new CompletionException(UpstreamFailures.unwrap(err));
            }
            addTagIndex(index, content);
            return new ReferrersPage(index.bytes(), artifactType != null);
        });
    }

    /** The referrers pulled so far and the cached referrers tag; null if none. Storage executor. */
    private ReferrersPage localReferrers(RepoTarget.Proxied t, Digest subject, String artifactType) {
        ReferrersIndex index = new ReferrersIndex(artifactType);
        metadata.referrers(t.repo(), subject).forEach(index::add);
        metadata.getTag(t.repo(), referrersTag(subject)).map(TagRecord::digest)
                .flatMap(d -> metadata.getManifest(t.repo(), d)
                        .flatMap(m -> blobs.content(d).map(c -> ManifestContent.of(d, m.mediaType(), c))))
                .ifPresent(c -> addTagIndex(index, c));
        return index.isEmpty() ? null : new ReferrersPage(index.bytes(), artifactType != null);
    }

    /** Adds the descriptors of a referrers tag's index; anything else there lists nothing (as the spec says). */
    private static void addTagIndex(ReferrersIndex index, ManifestContent content) {
        if (!MediaTypes.OCI_INDEX.equals(content.mediaType()) || content.body() == null) {
            return;
        }
        try {
            index.addAll(JSON.readTree(content.body()));
        } catch (IOException e) {
            // not JSON after all: no referrers
        }
    }

    /** The spec's referrers tag schema: the algorithm, '-', the hex (truncated to 32 and 64 characters). */
    static String referrersTag(Digest subject) {
        String alg = subject.algorithm().prefix();
        String hex = subject.hex();
        return (alg.length() > 32 ? alg.substring(0, 32) : alg) + "-"
                + (hex.length() > 64 ? hex.substring(0, 64) : hex);
    }

    private static JsonNode parse(RepoTarget.Proxied t, UpstreamListing l, String what) {
        try {
            JsonNode node = JSON.readTree(l.body());
            if (node != null && node.isObject()) {
                return node;
            }
        } catch (IOException e) {
            // below
        }
        throw new UpstreamException(UpstreamException.Kind.PROTOCOL, "upstream '" + t.upstream().name()
                + "' answered " + what + " of " + t.upstreamRepo() + " with something that is not a JSON object");
    }
}
