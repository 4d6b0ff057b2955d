package ocimirror.server.upstream;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * The mirror's client for one upstream registry. It authenticates with the mirror's own
 * credentials for that upstream (never a client's: no method takes any), follows redirects
 * and retries transient failures before anything reached the caller.
 *
 * <p>Every future fails with an {@link UpstreamException} whose {@link UpstreamException.Kind}
 * tells the caller whether to serve a stale copy. Futures complete on a network thread:
 * dependent stages must not block (use the {@code *Async} variants with an executor for
 * disk or database work).
 */
public interface UpstreamClient extends AutoCloseable {

    /** The configured name of the upstream. */
    String name();

    /**
     * {@code GET /v2/<repo>/manifests/<reference>} with {@code accept} sent as the
     * {@code Accept} header (as the client sent it: the upstream picks the representation,
     * so the mirror never converts one). The body is aggregated up to the configured
     * manifest size limit; a larger one fails with {@link UpstreamException.Kind#PROTOCOL}.
     */
    CompletableFuture<UpstreamManifest> getManifest(RepoName repo, Reference reference, List<String> accept);

    /**
     * {@code HEAD /v2/<repo>/manifests/<reference>}: the cheap revalidation of a cached tag
     * (Docker Hub does not count a HEAD against the pull limit).
     */
    CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept);

    /**
     * {@code GET /v2/<repo>/tags/list}, with {@code n} (unless {@code n < 0}) and {@code last}
     * (unless null) as query parameters. The body is aggregated up to the manifest size limit.
     * Upstreams differ in how they honour {@code n} and {@code last} (distribution 2.8 ignores
     * both, and sends the tags unsorted): the caller sorts and pages what it gets.
     */
    CompletableFuture<UpstreamListing> listTags(RepoName repo, int n, String last);

    /**
     * {@code GET /v2/<repo>/referrers/<subject>} (OCI distribution-spec 1.1), with
     * {@code artifactType} as a query parameter unless null. An upstream without the referrers
     * API answers 404: the future fails with {@link UpstreamException.Kind#NOT_FOUND}.
     */
    CompletableFuture<UpstreamListing> referrers(RepoName repo, Digest subject, String artifactType);

    /**
     * The next page of a referrers listing: {@code GET} of the URL the previous page's
     * {@code Link} header named ({@code link} is the header's value), which must be this upstream's
     * referrers of {@code subject} in {@code repo} (another host, path or a bad link fails with
     * {@link UpstreamException.Kind#PROTOCOL}, nothing asked). Its query is passed as the upstream
     * wrote it: the spec's referrers pages are opaque.
     */
    default CompletableFuture<UpstreamListing> referrersPage(RepoName repo, Digest subject, String link) {
        return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.PROTOCOL,
                "upstream '" + name() + "': the client cannot follow a referrers page"));
    }

    /**
     * Streams {@code GET /v2/<repo>/blobs/<digest>} into {@code sink}, reading from the network
     * only as fast as the sink's stages complete. See {@link BlobSink} for the call order. The
     * bytes are not verified here: the sink (the blob store's writer) checks the digest.
     * Retries happen only before {@link BlobSink#onStart}.
     *
     * @return completes with the number of bytes delivered, after the sink's terminal call;
     *         cancelling it aborts the transfer
     */
    CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink);

    /** Closes pooled connections; requests in flight fail. Does not shut down a shared event loop group. */
    @Override
    void close();
}
