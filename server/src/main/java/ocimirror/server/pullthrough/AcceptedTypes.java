package ocimirror.server.pullthrough;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import ocimirror.storage.oci.MediaTypes;

/**
 * The manifest media types a client's {@code Accept} header names, as the mirror needs them:
 * the entries to forward upstream unchanged, whether a cached type may be served to this
 * client, and which cache class the client belongs to.
 *
 * <p>A client is <em>full</em> when it accepts all four manifest types (OCI and Docker image
 * manifests and indexes), or anything ({@code *}{@code /*}). containerd, Docker, Podman and
 * skopeo all are. What an upstream answers a full client for a tag is the tag's true object,
 * so only full clients' answers are persisted as tag records; see {@link PullThroughService}.
 */
public final class AcceptedTypes {

    private static final AcceptedTypes NONE = new AcceptedTypes(List.of(), Set.of(), false);

    private final List<String> forward;
    private final Set<String> types;
    private final boolean wildcard;

    private AcceptedTypes(List<String> forward, Set<String> types, boolean wildcard) {
        this.forward = forward;
        this.types = types;
        this.wildcard = wildcard;
    }

    /** No {@code Accept} header at all. */
    public static AcceptedTypes none() {
        return NONE;
    }

    /** Everything a modern client accepts; for background work that has no client (tests, prefetch). */
    public static AcceptedTypes all() {
        return parse(List.of(MediaTypes.OCI_INDEX + ", " + MediaTypes.DOCKER_MANIFEST_LIST + ", "
                + MediaTypes.OCI_MANIFEST + ", " + MediaTypes.DOCKER_MANIFEST));
    }

    /**
     * Parses the values of every {@code Accept} header of a request (each may list several
     * types, comma-separated). Parameters ({@code ;q=0.5}) are forwarded but ignored for matching.
     */
    public static AcceptedTypes parse(Collection<String> headerValues) {
        if (headerValues == null || headerValues.isEmpty()) {
            return NONE;
        }
        List<String> forward = new ArrayList<>();
        Set<String> types = new TreeSet<>();
        boolean wildcard = false;
        for (String header : headerValues) {
            for (String entry : header.split(",")) {
                String e = entry.trim();
                if (e.isEmpty()) {
                    continue;
                }
                forward.add(e);
                String type = bare(e);
                if (type.equals("*/*")) {
                    wildcard = true;
                } else if (!type.isEmpty()) {
                    types.add(type);
                }
            }
        }
        return forward.isEmpty() ? NONE : new AcceptedTypes(List.copyOf(forward), Set.copyOf(types), wildcard);
    }

    /** The entries as the client sent them, for the upstream request. */
    public List<String> forward() {
        return forward;
    }

    /**
     * Whether a manifest of {@code mediaType} may be served to this client. A client that sent
     * no {@code Accept} is not given an index (an old client would not understand one).
     */
    public boolean accepts(String mediaType) {
        if (wildcard) {
            return true;
        }
        if (forward.isEmpty()) {
            return !MediaTypes.INDEXES.contains(mediaType);
        }
        return types.contains(mediaType);
    }

    /** Accepts every manifest and index type: its answers are the tag's true object. */
    public boolean full() {
        return wildcard || types.containsAll(MediaTypes.MANIFESTS);
    }

    /** A stable key for the class of clients that get the same answer upstream: "full", or the sorted types. */
    public String key() {
        if (full()) {
            return "full";
        }
        return forward.isEmpty() ? "none" : String.join(",", types);
    }

    /** The media type of a {@code Content-Type} or {@code Accept} entry: lower case, no parameters. */
    static String bare(String value) {
        int semi = value.indexOf(';');
        return (semi < 0 ? value : value.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return "Accept[" + key() + "]";
    }
}
