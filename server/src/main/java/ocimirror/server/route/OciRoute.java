package ocimirror.server.route;

import java.util.Objects;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * A registry request path, parsed once and validated by {@link OciRouteParser}. Every name,
 * reference and digest here already matches the spec's grammar, so handlers never look at the
 * raw path again. The HTTP method travels beside the route: one path serves several methods.
 */
public sealed interface OciRoute {

    /** {@code /v2/}: the API version check. */
    record Base() implements OciRoute {
    }

    /**
     * {@code /v2/_catalog}.
     *
     * @param n    page size, or {@link #ALL} if the client gave none
     * @param last the last repository of the previous page (exclusive), or null
     */
    record Catalog(int n, String last) implements OciRoute {
    }

    /** {@code /v2/<name>/tags/list}; {@code n} as in {@link Catalog}. */
    record Tags(RepoName repo, int n, String last) implements OciRoute {
        public Tags {
            Objects.requireNonNull(repo, "repo");
        }
    }

    /** {@code /v2/<name>/manifests/<reference>}. */
    record Manifest(RepoName repo, Reference reference) implements OciRoute {
        public Manifest {
            Objects.requireNonNull(repo, "repo");
            Objects.requireNonNull(reference, "reference");
        }
    }

    /**
     * {@code /v2/<name>/manifests/<reference>} whose reference is neither a valid tag nor a valid
     * digest (the conformance suite's {@code .INVALID_MANIFEST_NAME}): no such manifest can exist.
     * Reads and deletes of it are {@code MANIFEST_UNKNOWN}; a push is refused with {@code error}
     * ({@code TAG_INVALID} or {@code DIGEST_INVALID}). The parser does not know the method, so it
     * hands on the refusal rather than throwing it. The reference itself is not kept: nothing
     * from it may reach storage; {@code detail} only names it (abbreviated) for the error body.
     */
    record InvalidManifestReference(RepoName repo, OciError error, String detail) implements OciRoute {
        public InvalidManifestReference {
            Objects.requireNonNull(repo, "repo");
            Objects.requireNonNull(error, "error");
        }
    }

    /** {@code /v2/<name>/blobs/<digest>}. */
    record Blob(RepoName repo, Digest digest) implements OciRoute {
        public Blob {
            Objects.requireNonNull(repo, "repo");
            Objects.requireNonNull(digest, "digest");
        }
    }

    /**
     * {@code /v2/<name>/blobs/uploads/}, optionally {@code ?digest=} (monolithic upload) or
     * {@code ?mount=&from=} (cross-repository mount; without {@code from}, from wherever the
     * mirror has the blob). Each optional part is null when absent.
     */
    record UploadStart(RepoName repo, Digest digest, Digest mount, RepoName from) implements OciRoute {
        public UploadStart {
            Objects.requireNonNull(repo, "repo");
        }
    }

    /** {@code /v2/<name>/blobs/uploads/<uuid>}, {@code digest} from the query or null. */
    record Upload(RepoName repo, String uuid, Digest digest) implements OciRoute {
        public Upload {
            Objects.requireNonNull(repo, "repo");
            Objects.requireNonNull(uuid, "uuid");
        }
    }

    /** {@code /v2/<name>/referrers/<digest>}, {@code artifactType} filter or null. */
    record Referrers(RepoName repo, Digest digest, String artifactType) implements OciRoute {
        public Referrers {
            Objects.requireNonNull(repo, "repo");
            Objects.requireNonNull(digest, "digest");
        }
    }

    /** {@code /metrics}: the Prometheus scrape (not a registry route; see {@link OpsPaths}). */
    record Metrics() implements OciRoute {
    }

    /** {@code /healthz}: the process is alive. */
    record Healthz() implements OciRoute {
    }

    /** {@code /readyz}: storage and metadata are usable. */
    record Readyz() implements OciRoute {
    }

    /** {@code /admin/pins}: the pins in force (admin listener only; see {@link OpsPaths}). */
    record AdminPins() implements OciRoute {
    }

    /**
     * {@code /admin/pins/<image>}: one pin (admin listener only). {@code image} is an image
     * reference as {@code cache.pins} takes it ({@code docker.io/library/alpine:3.20}), checked
     * for syntax, not yet routed.
     */
    record AdminPin(String image) implements OciRoute {
        public AdminPin {
            Objects.requireNonNull(image, "image");
        }
    }

    /** Any other path: answered with 404 {@code NOT_FOUND}. */
    record NotFound(String path) implements OciRoute {
    }

    /** {@code n} when the client asked for no page size: the server's own cap applies. */
    int ALL = -1;
}
