package ocimirror.server.upstream;

import java.util.Objects;

/**
 * A listing as the upstream sent it: the body of {@code tags/list} or {@code referrers}, and the
 * headers that say how to read it.
 *
 * @param status         the HTTP status (a 2xx)
 * @param contentType    the {@code Content-Type} header, or null
 * @param link           the {@code Link} header (the next page, RFC 5988), or null
 * @param filtersApplied the {@code OCI-Filters-Applied} header, or null
 * @param body           the body bytes; callers must not modify the array
 */
public record UpstreamListing(int status, String contentType, String link, String filtersApplied, byte[] body) {

    public UpstreamListing {
        Objects.requireNonNull(body, "body");
    }

    @Override
    public String toString() {
        return "UpstreamListing[status=" + status + ", contentType=" + contentType + ", link=" + link
                + ", bytes=" + body.length + "]";
    }
}
