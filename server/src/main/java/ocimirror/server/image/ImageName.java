package ocimirror.server.image;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * An image as clients name it: {@code gcr.io/team/app:1}, {@code local/app@sha256:...},
 * {@code nginx} (tag {@code latest}), {@code registry.corp:5000/team/app:2}. The name is
 * routed like a request to the mirror ({@link #resolve}): a first segment that is an alias
 * selects that upstream, a hosted namespace is hosted, anything else goes to the default
 * upstream. A first segment with a port ({@code host:port}) cannot be a repository path
 * component, so it is routed as containerd's {@code ns} would be.
 *
 * @param name      the repository part as written (host included)
 * @param reference the tag ({@code latest} when none is given) or digest
 */
public record ImageName(String name, Reference reference) {

    public ImageName {
        requireNonNull(name, "name");
        requireNonNull(reference, "reference");
    }

    /**
     * Parses {@code NAME[:TAG][@DIGEST]}; with both, the digest wins (as in Docker).
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static ImageName parse(String s) {
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException("empty image name");
        }
        String name = s.trim();
        String ref = null;
        int at = name.indexOf('@');
        if (at >= 0) {
            ref = name.substring(at + 1);
            name = name.substring(0, at);
        }
        int colon = name.lastIndexOf(':');
        if (colon > name.lastIndexOf('/')) {
            String tag = name.substring(colon + 1);
            name = name.substring(0, colon);
            if (ref == null) {
                ref = tag;
            }
        }
        if (ref == null) {
            ref = "latest";
        }
        try {
            Reference r = Reference.parse(ref);
            if (at >= 0 && !(r instanceof Reference.ByDigest)) {
                throw new IllegalArgumentException("'" + s + "': after '@' comes a digest (sha256:...)");
            }
            ImageName image = new ImageName(name, r);
            image.path(); // validates the repository part
            return image;
        } catch (OciException e) {
            throw new IllegalArgumentException("'" + s + "' is not an image name: " + e.detail());
        }
    }

    /** The registry host this name starts with ({@code gcr.io}, {@code localhost:5000}), or null. */
    public String host() {
        int slash = name.indexOf('/');
        if (slash < 0) {
            return null;
        }
        String first = name.substring(0, slash);
        return first.indexOf('.') >= 0 || first.indexOf(':') >= 0 || first.equals("localhost") ? first : null;
    }

    /** The repository path without the registry host: {@code team/app} for {@code gcr.io/team/app:1}. */
    public RepoName path() {
        String h = host();
        String p = h == null ? name : name.substring(h.length() + 1);
        if (!RepoName.isValid(p)) {
            throw OciError.NAME_INVALID.exception("'" + p + "' is not a repository name (lower case, e.g. team/app)");
        }
        return RepoName.of(p);
    }

    /** Where the mirror keeps this image, as a request for it would be routed. */
    public RepoTarget resolve(UpstreamRouter router) {
        int slash = name.indexOf('/');
        String first = slash < 0 ? name : name.substring(0, slash);
        if (first.indexOf(':') >= 0) {
            return router.resolve(path(), first.toLowerCase(Locale.ROOT));
        }
        if (!RepoName.isValid(name)) {
            throw OciError.NAME_INVALID.exception("'" + name + "' is not a repository name (lower case)");
        }
        return router.resolve(RepoName.of(name), null);
    }

    /** This image under another repository name, same reference. */
    public ImageName withName(String other) {
        return new ImageName(other, reference);
    }

    /** {@code name:tag} or {@code name@digest}. */
    @Override
    public String toString() {
        return name + (reference instanceof Reference.ByDigest ? "@" : ":") + reference;
    }
}
