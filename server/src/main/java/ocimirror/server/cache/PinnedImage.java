package ocimirror.server.cache;

import static java.util.Objects.requireNonNull;

import ocimirror.config.CacheConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.cache.PinnedSet;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * A pin ({@code docker.io/library/alpine:3.20}) routed as a client's request for it would be:
 * the first segment selects an upstream by alias or name (an alias with a port, such as
 * {@code registry.corp:5000}, too), otherwise the name goes to the default upstream or a hosted
 * namespace. No tag means {@code latest}.
 *
 * @param image     the pin as written
 * @param target    where it lives: the cache key of a proxied repository, or a hosted one
 * @param reference the tag or digest
 */
public record PinnedImage(String image, RepoTarget target, Reference reference) {

    public PinnedImage {
        requireNonNull(image, "image");
        requireNonNull(target, "target");
        requireNonNull(reference, "reference");
    }

    /**
     * Parses and routes {@code image}.
     *
     * @throws IllegalArgumentException naming what is wrong (syntax, or no upstream or namespace for it)
     */
    public static PinnedImage resolve(String image, UpstreamRouter router) {
        if (!CacheConfig.isImageReference(image)) {
            throw new IllegalArgumentException("'" + image + "' is not an image reference such as"
                    + " docker.io/library/alpine:3.20");
        }
        String name;
        String ref;
        int at = image.indexOf('@');
        int colon = image.lastIndexOf(':');
        if (at >= 0) {
            name = image.substring(0, at);
            ref = image.substring(at + 1);
        } else if (colon > image.lastIndexOf('/')) {
            name = image.substring(0, colon);
            ref = image.substring(colon + 1);
        } else {
            name = image;
            ref = "latest";
        }
        try {
            Reference reference = Reference.parse(ref);
            int slash = name.indexOf('/');
            RepoTarget target;
            if (slash > 0 && name.substring(0, slash).indexOf(':') >= 0) {
                // host:port/...: only an upstream alias can be meant; route it as containerd's ns would.
                target = router.resolve(RepoName.of(name.substring(slash + 1)), name.substring(0, slash));
            } else {
                target = router.resolve(RepoName.of(name), null);
            }
            return new PinnedImage(image, target, reference);
        } catch (OciException e) {
            throw new IllegalArgumentException("pin '" + image + "': " + e.getMessage(), e);
        }
    }

    /** What the evictor protects: the local repository and the reference. */
    public PinnedSet.Pin pin() {
        return new PinnedSet.Pin(target.repo(), reference);
    }

    @Override
    public String toString() {
        return image + " (" + target.repo() + (reference instanceof Reference.Tag ? ":" : "@") + reference + ")";
    }
}
