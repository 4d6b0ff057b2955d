package ocimirror.server.pullthrough;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
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
    private final String key;

    private AcceptedTypes(List<String> forward, Set<String> types, boolean wildcard) {
        this.forward = forward;
        this.types = types;
        this.wildcard = wildcard;
        this.key = full() ? "full" : forward.isEmpty() ? "none" : String.join(",", types);
    }

    /**
     * Parses {@code Accept} headers, remembering the last few hundred distinct ones: each kind of
     * client sends the same header with every request, and parsing it anew (split, trim, lower
     * case, two sets) was a tenth of the garbage of a proxied manifest GET. Thread-safe.
     */
    public static final class ParseCache {
        private static final int MAX_ENTRIES = 256;
        /** A longer header is parsed every time rather than kept. */
        private static final int MAX_CACHED_LENGTH = 1024;

        private final Cache<String, AcceptedTypes> parsed = Caffeine.newBuilder().maximumSize(MAX_ENTRIES).build();

        /** As {@link AcceptedTypes#parse}. */
        public AcceptedTypes parse(List<String> headerValues) {
            if (headerValues == null || headerValues.size() != 1 || headerValues.get(0).length() > MAX_CACHED_LENGTH) {
                return AcceptedTypes.parse(headerValues);
            }
            return parsed.get(headerValues.get(0), header -> AcceptedTypes.parse(List.of(header)));
        }
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
        // Kept sorted (a TreeSet, read-only): the key joins them in order.
        return forward.isEmpty() ? NONE : new AcceptedTypes(List.copyOf(forward), Collections.unmodifiableSet(types), wildcard);
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
        return key;
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
