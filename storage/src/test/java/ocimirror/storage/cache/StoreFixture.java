package ocimirror.storage.cache;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import ocimirror.storage.Storage;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.ManifestRecord;
import ocimirror.storage.meta.TagRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;

/** A storage on a temp directory and a mutable clock, with helpers that write content as the server does. */
final class StoreFixture implements AutoCloseable {
    static final String LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
    static final String CONFIG = "application/vnd.oci.image.config.v1+json";

    final MutableClock clock = new MutableClock(Instant.parse("2025-03-01T00:00:00Z"));
    final Storage storage;
    private long seed;

    StoreFixture(Path dir) throws IOException {
        storage = Storage.open(dir, clock);
    }

    /** {@code size} random bytes committed, recorded (now) and linked into {@code repo}. */
    Digest blob(RepoName repo, int size) {
        byte[] bytes = new byte[size];
        new Random(++seed).nextBytes(bytes);
        return blob(repo, bytes);
    }

    Digest blob(RepoName repo, byte[] bytes) {
        Digest d = Digest.sha256(bytes);
        try {
            storage.blobs().put(bytes, d);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long now = clock.millis();
        if (storage.metadata().getBlob(d).isEmpty()) {
            storage.metadata().putBlob(new BlobRecord(d, bytes.length, null, now, now));
        }
        storage.metadata().linkBlob(repo, d);
        return d;
    }

    /** An image manifest over {@code config} and {@code layers} stored in {@code repo} under {@code tag} (if not null). */
    Digest manifest(RepoName repo, String tag, Digest config, List<Digest> layers) {
        String json = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":"
                + descriptor(CONFIG, config) + ",\"layers\":["
                + layers.stream().map(l -> descriptor(LAYER, l)).collect(Collectors.joining(",")) + "]}";
        return storeManifest(repo, tag, json.getBytes(UTF_8), MediaTypes.OCI_MANIFEST);
    }

    /** An index over {@code manifests}. */
    Digest index(RepoName repo, String tag, List<Digest> manifests) {
        String json = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":["
                + manifests.stream().map(m -> descriptor(MediaTypes.OCI_MANIFEST, m)).collect(Collectors.joining(","))
                + "]}";
        return storeManifest(repo, tag, json.getBytes(UTF_8), MediaTypes.OCI_INDEX);
    }

    private Digest storeManifest(RepoName repo, String tag, byte[] bytes, String type) {
        Digest d = Digest.sha256(bytes);
        try {
            storage.blobs().put(bytes, d);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long now = clock.millis();
        if (storage.metadata().getBlob(d).isEmpty()) {
            storage.metadata().putBlob(new BlobRecord(d, bytes.length, type, now, now));
        }
        storage.metadata().putManifest(repo, new ManifestRecord(d, type, bytes.length, null, null, null));
        if (tag != null) {
            storage.metadata().putTag(repo, tag, new TagRecord(d, type, bytes.length, now, now));
        }
        return d;
    }

    private static String descriptor(String type, Digest d) {
        return "{\"mediaType\":\"" + type + "\",\"digest\":\"" + d + "\",\"size\":1}";
    }

    boolean fileExists(Digest d) {
        return storage.blobs().stat(d).isPresent();
    }

    @Override
    public void close() {
        storage.close();
    }
}
