package ocimirror.server.upstream;

import java.util.Optional;
import ocimirror.storage.oci.Digest;

/**
 * What a manifest {@code HEAD} told: enough to see whether a cached tag still points at the
 * same manifest.
 *
 * @param status        the HTTP status (a 2xx)
 * @param digest        the {@code Docker-Content-Digest} header, or null if the upstream sent none
 * @param contentType   the {@code Content-Type} header, or null
 * @param contentLength the {@code Content-Length} header, or -1
 */
public record UpstreamHead(int status, Digest digest, String contentType, long contentLength) {

    public Optional<Digest> digestHeader() {
        return Optional.ofNullable(digest);
    }
}
