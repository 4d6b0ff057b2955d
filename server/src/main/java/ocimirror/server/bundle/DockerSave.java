package ocimirror.server.bundle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import ocimirror.server.image.ImageManifest;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciException;

/**
 * A {@code docker save} archive in the format before Docker 25: {@code manifest.json} lists each
 * image's config file ({@code <sha256>.json}), its {@code RepoTags} and its layer tars
 * ({@code <id>/layer.tar}), and there is no registry manifest at all. The mirror never converts
 * a manifest it serves, but here there is none to keep, so one is written: a Docker schema 2
 * manifest over the config as it is and the layers <em>as they are, uncompressed</em>
 * ({@code application/vnd.docker.image.rootfs.diff.tar}, which containerd, Docker and skopeo
 * pull and unpack). Each layer's digest is then its {@code diff_id} from the config, so every
 * layer is verified against the config, and the config against its file name; and the
 * manifest's digest is the same on every import of the same archive. It is not the digest the
 * image has on the registry it came from ({@code docker push} gzips the layers, and gzip output
 * differs between implementations), so nodes' {@code repoDigests} differ from the public ones
 * for such images. An OCI layout (Docker 25+ {@code docker save}, skopeo, crane) keeps the
 * registry's manifests and digests.
 */
final class DockerSave {
    static final String CONFIG = "application/vnd.docker.container.image.v1+json";
    static final String LAYER = "application/vnd.docker.image.rootfs.diff.tar";
    private static final int MAX_CONFIG_BYTES = 32 << 20;
    private static final Pattern SHA256_HEX = Pattern.compile("[a-f0-9]{64}");
    private static final JsonMapper JSON = new JsonMapper();

    private DockerSave() {
    }

    static void read(BundleFiles files, Bundle bundle) throws IOException {
        String where = files.describe() + ": manifest.json";
        JsonNode entries = json(files.read("manifest.json", BundleReader.MAX_INDEX_BYTES), where);
        if (!entries.isArray()) {
            throw new BundleException(where + ": expected a list of images");
        }
        for (int i = 0; i < entries.size(); i++) {
            image(files, bundle, entries.get(i), where + "[" + i + "]");
        }
    }

    private static void image(BundleFiles files, Bundle bundle, JsonNode entry, String where) throws IOException {
        String configPath = entry.path("Config").asText("");
        JsonNode layerPaths = entry.path("Layers");
        if (configPath.isEmpty() || !layerPaths.isArray()) {
            throw new BundleException(where + ": Config and Layers are required");
        }
        byte[] config = files.read(configPath, MAX_CONFIG_BYTES);
        Digest configDigest = Digest.sha256(config);
        // The config's file is named after its digest (<hex>.json, or blobs/sha256/<hex>).
        String file = configPath.substring(configPath.lastIndexOf('/') + 1);
        String named = file.endsWith(".json") ? file.substring(0, file.length() - 5) : file;
        if (SHA256_HEX.matcher(named).matches() && !named.equals(configDigest.hex())) {
            throw new BundleException(where + ": " + configPath + " hashes to " + configDigest
                    + ": the bundle is damaged or was altered; nothing imported");
        }
        JsonNode diffIds = json(config, where + " " + configPath).path("rootfs").path("diff_ids");
        if (!diffIds.isArray() || diffIds.size() != layerPaths.size()) {
            throw new BundleException(where + ": the config lists " + diffIds.size() + " layer diff_ids for "
                    + layerPaths.size() + " Layers");
        }
        List<Object> layers = new ArrayList<>();
        List<ImageManifest.Descriptor> layerDescriptors = new ArrayList<>();
        for (int i = 0; i < layerPaths.size(); i++) {
            String path = layerPaths.get(i).asText("");
            long size = files.size(path);
            if (size < 0) {
                throw new BundleException(files.describe() + " is incomplete: layer " + path + " is not in it");
            }
            Digest diffId;
            try {
                diffId = Digest.parse(diffIds.get(i).asText(""));
            } catch (OciException e) {
                throw new BundleException(where + ": diff_ids[" + i + "]: " + e.detail());
            }
            bundle.blobs.putIfAbsent(diffId, new Bundle.Content(diffId, size, LAYER, path));
            layers.add(descriptor(LAYER, size, diffId));
            layerDescriptors.add(new ImageManifest.Descriptor(LAYER, diffId, size, null, false, null));
        }
        bundle.blobs.putIfAbsent(configDigest, new Bundle.Content(configDigest, config.length, CONFIG, configPath));
        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MediaTypes.DOCKER_MANIFEST);
        manifest.put("config", descriptor(CONFIG, config.length, configDigest));
        manifest.put("layers", layers);
        byte[] body = JSON.writeValueAsBytes(manifest);
        Digest digest = Digest.sha256(body);
        ImageManifest parsed = new ImageManifest(MediaTypes.DOCKER_MANIFEST, false, List.of(),
                new ImageManifest.Descriptor(CONFIG, configDigest, config.length, null, false, null), layerDescriptors);
        bundle.manifests.putIfAbsent(digest, new Bundle.Manifest(digest, MediaTypes.DOCKER_MANIFEST, body, parsed));
        JsonNode tags = entry.path("RepoTags");
        if (tags.isArray() && !tags.isEmpty()) {
            for (JsonNode t : tags) {
                bundle.roots.add(new Bundle.Root(t.asText(), null, digest, where));
            }
        } else {
            bundle.roots.add(new Bundle.Root(null, null, digest, where));
        }
    }

    private static Map<String, Object> descriptor(String mediaType, long size, Digest digest) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("mediaType", mediaType);
        d.put("size", size);
        d.put("digest", digest.toString());
        return d;
    }

    private static JsonNode json(byte[] bytes, String where) throws BundleException {
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new BundleException(where + ": not JSON: " + e.getMessage());
        }
        if (n == null || n.isMissingNode()) {
            throw new BundleException(where + ": empty");
        }
        return n;
    }
}
