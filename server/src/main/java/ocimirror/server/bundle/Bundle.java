package ocimirror.server.bundle;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ocimirror.server.image.ImageManifest;
import ocimirror.storage.oci.Digest;

/**
 * The images of a bundle, read and checked: every manifest verified against its digest and
 * parsed, every blob they reference present in the bundle (not yet verified: that happens as
 * it is committed).
 */
final class Bundle {

    /**
     * An image the bundle names.
     *
     * @param name  its image name in the bundle ({@code gcr.io/team/app:1}), or null
     * @param tag   a bare tag the bundle gives it without a repository (an OCI layout's
     *              {@code org.opencontainers.image.ref.name} as skopeo writes it), or null
     * @param where where the bundle names it, for messages
     */
    record Root(String name, String tag, Digest digest, String where) {
    }

    /** A manifest or index of the bundle, its bytes verified against {@code digest}. */
    record Manifest(Digest digest, String mediaType, byte[] body, ImageManifest parsed) {
    }

    /** A config or layer: where it is in the bundle and what it must hash to. */
    record Content(Digest digest, long size, String mediaType, String path) {
    }

    final List<Root> roots = new ArrayList<>();
    final Map<Digest, Manifest> manifests = new LinkedHashMap<>();
    final Map<Digest, Content> blobs = new LinkedHashMap<>();

    /** The manifests under {@code root}, children before the index that lists them, root last. */
    List<Manifest> graph(Digest root) {
        Set<Digest> seen = new LinkedHashSet<>();
        List<Manifest> out = new ArrayList<>();
        visit(root, seen, out);
        return out;
    }

    private void visit(Digest d, Set<Digest> seen, List<Manifest> out) {
        Manifest m = manifests.get(d);
        if (m == null || !seen.add(d)) {
            return;
        }
        for (ImageManifest.Descriptor child : m.parsed().manifests()) {
            visit(child.digest(), seen, out);
        }
        out.add(m);
    }

    /** The configs and layers of the manifests under {@code root}, each once. */
    Set<Digest> blobsOf(Digest root) {
        Set<Digest> out = new LinkedHashSet<>();
        for (Manifest m : graph(root)) {
            m.parsed().blobs().forEach(b -> out.add(b.digest()));
        }
        return out;
    }
}
