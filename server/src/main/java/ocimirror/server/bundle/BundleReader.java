package ocimirror.server.bundle;

import java.io.IOException;
import ocimirror.server.image.ImageManifest;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;

/**
 * Reads what a bundle holds: an OCI image layout ({@code index.json}; what skopeo, containerd,
 * crane, Docker 25+ and {@code ocimirror export} write), else a {@code docker save} archive in
 * the older format ({@code manifest.json}, see {@link DockerSave}). Image names come from the
 * {@code io.containerd.image.name} annotation (a full name), else
 * {@code org.opencontainers.image.ref.name}: a full name if it has a {@code /} or {@code :},
 * else a bare tag that needs {@code --name}.
 */
final class BundleReader {
    static final String REF_NAME = "org.opencontainers.image.ref.name";
    static final String CONTAINERD_NAME = "io.containerd.image.name";
    /** index.json and manifest.json: far beyond any real one, still bounded. */
    static final int MAX_INDEX_BYTES = 16 << 20;
    private static final int MAX_DEPTH = 8;

    private final BundleFiles files;
    private final int maxManifestBytes;
    private final Bundle bundle = new Bundle();

    private BundleReader(BundleFiles files, int maxManifestBytes) {
        this.files = files;
        this.maxManifestBytes = maxManifestBytes;
    }

    static Bundle read(BundleFiles files, int maxManifestBytes) throws IOException {
        BundleReader r = new BundleReader(files, maxManifestBytes);
        if (files.exists("index.json")) {
            r.readLayout();
        } else if (files.exists("manifest.json")) {
            DockerSave.read(files, r.bundle);
        } else {
            throw new BundleException(files.describe() + " is neither an OCI image layout (no index.json) nor a"
                    + " docker save archive (no manifest.json)");
        }
        if (r.bundle.roots.isEmpty()) {
            throw new BundleException(files.describe() + " holds no image");
        }
        return r.bundle;
    }

    private void readLayout() throws IOException {
        ImageManifest index;
        try {
            index = ImageManifest.parse(files.read("index.json", MAX_INDEX_BYTES), MediaTypes.OCI_INDEX);
        } catch (IllegalArgumentException e) {
            throw new BundleException(files.describe() + ": index.json: " + e.getMessage());
        }
        for (int i = 0; i < index.manifests().size(); i++) {
            ImageManifest.Descriptor d = index.manifests().get(i);
            String where = "index.json manifests[" + i + "]";
            walk(d, where, 0);
            String name = d.annotations().get(CONTAINERD_NAME);
            String tag = null;
            String ref = d.annotations().get(REF_NAME);
            if (name == null && ref != null) {
                if (ref.indexOf('/') >= 0 || ref.indexOf(':') >= 0) {
                    name = ref;
                } else {
                    tag = ref;
                }
            }
            bundle.roots.add(new Bundle.Root(name, tag, d.digest(), where));
        }
    }

    private void walk(ImageManifest.Descriptor d, String where, int depth) throws IOException {
        if (bundle.manifests.containsKey(d.digest())) {
            return;
        }
        if (depth > MAX_DEPTH) {
            throw new BundleException(files.describe() + ": indexes nested deeper than " + MAX_DEPTH + " at " + where);
        }
        String path = path(d.digest());
        if (!files.exists(path)) {
            throw new BundleException(files.describe() + " is incomplete: manifest " + d.digest() + " (" + where
                    + ") is not in it");
        }
        byte[] body = files.read(path, maxManifestBytes);
        Digest actual = Digest.of(d.digest().algorithm(), body);
        if (!actual.equals(d.digest()) || body.length != d.size()) {
            throw new BundleException(files.describe() + ": " + path + " (" + where + ") is " + body.length
                    + " bytes hashing to " + actual + ", not " + d.size() + " bytes of " + d.digest()
                    + ": the bundle is damaged or was altered; nothing imported");
        }
        ImageManifest parsed;
        try {
            parsed = ImageManifest.parse(body, d.mediaType());
        } catch (IllegalArgumentException e) {
            throw new BundleException(files.describe() + ": manifest " + d.digest() + " (" + where + "): "
                    + e.getMessage());
        }
        bundle.manifests.put(d.digest(), new Bundle.Manifest(d.digest(), parsed.mediaType(), body, parsed));
        for (ImageManifest.Descriptor child : parsed.manifests()) {
            walk(child, "in index " + d.digest(), depth + 1);
        }
        for (ImageManifest.Descriptor b : parsed.blobs()) {
            String p = path(b.digest());
            long size = files.size(p);
            if (size < 0) {
                throw new BundleException(files.describe() + " is incomplete: blob " + b.digest() + " of manifest "
                        + d.digest() + " is not in it");
            }
            bundle.blobs.putIfAbsent(b.digest(), new Bundle.Content(b.digest(), b.size(), b.mediaType(), p));
        }
    }

    static String path(Digest d) {
        return "blobs/" + d.algorithm().prefix() + "/" + d.hex();
    }
}
