package ocimirror.server.pullthrough;

import java.util.Locale;

/**
 * What the cache did for one request of a proxied repository: the {@code cache} field of the
 * access log and the {@code result} label of {@code ocimirror_cache_requests_total}.
 */
public enum CacheResult {
    /** Served from the local store (a tag younger than its TTL, or revalidated by a HEAD with the same digest). */
    HIT,
    /** Fetched from the upstream (or asked it, and it answered 404 or failed). */
    MISS,
    /** A cached manifest served without revalidation because the upstream was out. */
    STALE,
    /** Joined another request's upstream fetch of the same manifest or blob. */
    COALESCED,
    /** Answered 404 from the short-lived memory of an upstream 404. */
    NEGATIVE;

    private final String label = name().toLowerCase(Locale.ROOT);

    /** The lower-case name used in logs and labels. */
    public String label() {
        return label;
    }
}
