package ocimirror.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * A one-layer image written as an OCI image layout, for skopeo to push: a gzip'd tar layer,
 * its config (diff_ids = sha256 of the uncompressed tar) and an OCI manifest.
 */
public record TinyImage(Path layout, String tag, byte[] layer, Digest layerDigest, byte[] config, Digest configDigest,
                 byte[] manifest, Digest manifestDigest) {

    /** {@code fileBytes} random (incompressible) bytes in one file, from {@code seed}. */
    public static TinyImage write(Path layout, String tag, int fileBytes, long seed) throws IOException {
        byte[] content = new byte[fileBytes];
        new Random(seed).nextBytes(content);
        byte[] tar = tar("data.bin", content);
        byte[] layer = gzip(tar);
        Digest layerDigest = Digest.sha256(layer);
        byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + Digest.sha256(tar) + "\"]}}")
                .getBytes(StandardCharsets.UTF_8);
        Digest configDigest = Digest.sha256(config);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
                + "\",\"size\":" + config.length + "},"
                + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\""
                + layerDigest + "\",\"size\":" + layer.length + "}]}").getBytes(StandardCharsets.UTF_8);
        Digest manifestDigest = Digest.sha256(manifest);

        Files.createDirectories(layout.resolve("blobs/sha256"));
        for (byte[] blob : new byte[][] {layer, config, manifest}) {
            Files.write(layout.resolve("blobs/sha256/" + Digest.sha256(blob).hex()), blob);
        }
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.writeString(layout.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\""
                + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + manifestDigest + "\",\"size\":" + manifest.length
                + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag + "\"}}]}");
        return new TinyImage(layout, tag, layer, layerDigest, config, configDigest, manifest, manifestDigest);
    }

    /** skopeo's source name for this layout. */
    public String source() {
        return "oci:" + layout + ":" + tag;
    }

    private static byte[] tar(String name, byte[] content) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            TarArchiveEntry e = new TarArchiveEntry(name);
            e.setSize(content.length);
            e.setModTime(0);
            tar.putArchiveEntry(e);
            tar.write(content);
            tar.closeArchiveEntry();
        }
        return out.toByteArray();
    }

    private static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }
}
