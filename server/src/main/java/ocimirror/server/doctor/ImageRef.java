package ocimirror.server.doctor;

import java.util.Objects;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/** A repository and a tag or digest: {@code library/alpine:latest}, {@code team/app@sha256:...}. */
record ImageRef(RepoName repo, Reference reference) {

    /** What the doctor HEADs on a Docker Hub upstream when no {@code --repo} is given. */
    static final String DOCKER_HUB_DEFAULT = "library/alpine:latest";

    ImageRef {
        Objects.requireNonNull(repo, "repo");
        Objects.requireNonNull(reference, "reference");
    }

    /**
     * Parses {@code REPO:TAG} or {@code REPO@DIGEST}; a bare {@code REPO} means tag {@code latest}.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    static ImageRef parse(String s) {
        String repo;
        String ref;
        int at = s.indexOf('@');
        int colon = s.lastIndexOf(':');
        if (at >= 0) {
            repo = s.substring(0, at);
            ref = s.substring(at + 1);
        } else if (colon > s.lastIndexOf('/')) {
            repo = s.substring(0, colon);
            ref = s.substring(colon + 1);
        } else {
            repo = s;
            ref = "latest";
        }
        if (!RepoName.isValid(repo)) {
            throw new IllegalArgumentException("'" + repo + "' is not a repository name (lower case, e.g. library/alpine)");
        }
        try {
            Reference r = Reference.parse(ref);
            if (at >= 0 && !(r instanceof Reference.ByDigest)) {
                throw new IllegalArgumentException("'" + ref + "' after '@' is not a digest (sha256:...)");
            }
            return new ImageRef(RepoName.of(repo), r);
        } catch (OciException e) {
            throw new IllegalArgumentException("'" + ref + "' is not a tag or digest: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return repo.value() + (reference instanceof Reference.ByDigest ? "@" : ":") + reference;
    }
}
