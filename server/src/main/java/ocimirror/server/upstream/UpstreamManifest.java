package ocimirror.server.upstream;

import java.util.Objects;
import java.util.Optional;
import ocimirror.storage.oci.Digest;

/**
 * A manifest as the upstream sent it: the exact bytes, never re-serialized.
 *
 * @param status              the HTTP status (a 2xx)
 * @param contentType         the {@code Content-Type} header (the manifest's media type), or null
 * @param dockerContentDigest the {@code Docker-Content-Digest} header, or null if absent
 * @param body                the body bytes; callers must not modify the array
 */
public record UpstreamManifest(int status, String contentType, Digest dockerContentDigest, byte[] body) {

    public UpstreamManifest {
        Objects.requireNonNull(body, "body");
    }

    public Optional<Digest> digestHeader() {
        return Optional.ofNullable(dockerContentDigest);
    }

    /** The sha256 of the body (computes it: call off the event loop for large manifests). */
    public Digest bodyDigest() {
        return Digest.sha256(body);
    }

    @Override
    public String toString() {
        return "UpstreamManifest[status=" + status + ", contentType=" + contentType + ", digest="
                + dockerContentDigest + ", bytes=" + body.length + "]";
    }
}
