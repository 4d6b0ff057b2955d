package ocimirror.server.pullthrough;

/**
 * Counters of a {@link PullThroughService} since it started (a snapshot; metrics export comes later).
 *
 * @param staleServed          manifests and listings served from the cache because the upstream was out
 *                             (unreachable, 5xx, 429, timeout) when they needed revalidating
 * @param manifestGets         manifest GETs sent upstream
 * @param manifestHeads        manifest HEADs sent upstream to revalidate a cached tag
 * @param coalesced            manifest requests that joined another request's upstream work
 * @param negativeHits         requests answered 404 from the short negative cache
 * @param blobFetches          blob downloads started (one per digest however many clients asked)
 * @param prefetches           blobs the prefetcher asked for after an image manifest was fetched
 * @param invalidManifests     upstream answers to manifest requests refused as not a manifest
 */
public record PullThroughStats(long staleServed, long manifestGets, long manifestHeads, long coalesced,
                               long negativeHits, long blobFetches, long prefetches, long invalidManifests) {
}
