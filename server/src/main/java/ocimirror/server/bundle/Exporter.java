package ocimirror.server.bundle;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import ocimirror.config.MirrorConfig;
import ocimirror.server.image.ImageManifest;
import ocimirror.server.image.ImageName;
import ocimirror.server.image.Platform;
import ocimirror.server.progress.Progress;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * {@code ocimirror export}: writes images from a data directory (cached or hosted, named as
 * clients name them) as an OCI image layout tar ({@code oci-layout}, {@code index.json},
 * {@code blobs/<alg>/<hex>}), gzip or xz compressed if the file name ends so. Manifests are
 * written as stored, byte for byte, so an import elsewhere serves the same digests.
 *
 * <p>All platforms of an index by default: every manifest it lists and all their blobs must be
 * stored (a pull-through cache holds only the platforms nodes asked for; {@code ocimirror
 * prefetch} fetches all). With a platform, {@code index.json} points at that platform's
 * manifest directly and only its blobs are written: the original index is left out, because
 * a layout holding an index without the manifests it lists is incomplete, and the mirror never
 * writes a trimmed index of its own (that would be a converted manifest with a new digest).
 * The tar is written beside the target and renamed into place: a failed export leaves none.
 */
public final class Exporter {
    private static final JsonMapper JSON = new JsonMapper();
    private static final long MTIME = 0; // fixed: the same images give the same tar

    private final Storage storage;
    private final RegistryService registry;
    private final UpstreamRouter router;

    /** One image written: its name as given, its top digest (the platform's with a platform) and media type. */
    public record Exported(String name, Digest digest, String mediaType) {
    }

    /** What an export wrote. */
    public record Result(List<Exported> images, int blobs, long bytes) {
    }

    private record Top(ImageName name, ImageManifest.Descriptor descriptor) {
    }

    public Exporter(Storage storage, MirrorConfig config, Clock clock) {
        this.storage = requireNonNull(storage, "storage");
        this.registry = new RegistryService(storage.blobs(), storage.metadata(), clock,
                RegistryService.Settings.from(config));
        this.router = new UpstreamRouter(config.upstreams(), config.hosted());
    }

    /**
     * Writes {@code images} to {@code out}.
     *
     * @param platform null for every platform
     * @throws BundleException when an image, or part of it, is not stored
     */
    public Result run(List<ImageName> images, Platform platform, Path out, Function<String, Progress> progress)
            throws IOException {
        Map<Digest, BlobInfo> content = new LinkedHashMap<>();
        List<Top> tops = new ArrayList<>();
        for (ImageName image : images) {
            tops.add(collect(image, platform, content));
        }
        long total = content.values().stream().mapToLong(BlobInfo::size).sum();
        Path dir = out.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new BundleException(out + ": the directory " + dir + " does not exist");
        }
        Path tmp = Files.createTempFile(dir, "." + out.getFileName() + ".", ".part");
        try {
            try (Progress p = progress.apply("export");
                 OutputStream file = Files.newOutputStream(tmp);
                 OutputStream compressed = Compression.forName(out.getFileName().toString()).wrap(file);
                 TarArchiveOutputStream tar = new TarArchiveOutputStream(compressed)) {
                p.total(total);
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                bytes(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
                bytes(tar, "index.json", index(tops));
                directory(tar, "blobs/");
                for (String alg : content.keySet().stream().map(d -> d.algorithm().prefix()).distinct().toList()) {
                    directory(tar, "blobs/" + alg + "/");
                }
                for (BlobInfo b : content.values()) {
                    file(tar, BundleReader.path(b.digest()), b, p);
                }
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        List<Exported> exported = tops.stream().map(t -> new Exported(t.name().toString(), t.descriptor().digest(),
                t.descriptor().mediaType())).toList();
        return new Result(exported, content.size(), total);
    }

    /** Finds the image, checks that all of it is stored, and adds its manifests and blobs to {@code content}. */
    private Top collect(ImageName image, Platform platform, Map<Digest, BlobInfo> content) throws BundleException {
        RepoTarget target;
        ManifestContent root;
        try {
            target = image.resolve(router);
        } catch (OciException | IllegalArgumentException e) {
            throw new BundleException(image + ": " + e.getMessage());
        }
        String where = target instanceof RepoTarget.Proxied p ? "the cache of upstream '" + p.upstream().name() + "'"
                : "hosted repository " + target.repo();
        try {
            root = registry.manifest(target.repo(), image.reference());
        } catch (OciException e) {
            throw new BundleException(image + " is not in " + where + missingHint(target, image));
        }
        ImageManifest parsed = parse(image, root);
        ImageManifest.Descriptor top = new ImageManifest.Descriptor(root.mediaType(), root.digest(), root.blob().size(),
                null, false, Map.of());
        if (platform != null && parsed.index()) {
            List<ImageManifest.Descriptor> matching = parsed.manifests(platform);
            if (matching.isEmpty()) {
                throw new BundleException(image + " has no " + platform + " image; it has " + parsed.platforms());
            }
            top = matching.get(0);
            root = manifest(image, target, top.digest(), where);
            parsed = parse(image, root);
            top = new ImageManifest.Descriptor(root.mediaType(), top.digest(), top.size(), top.platform(), false,
                    Map.of());
        }
        walk(image, target, root, parsed, where, content);
        return new Top(image, top);
    }

    private void walk(ImageName image, RepoTarget target, ManifestContent m, ImageManifest parsed, String where,
                      Map<Digest, BlobInfo> content) throws BundleException {
        content.put(m.digest(), m.blob());
        for (ImageManifest.Descriptor child : parsed.manifests()) {
            if (!content.containsKey(child.digest())) {
                ManifestContent c = manifest(image, target, child.digest(), where);
                walk(image, target, c, parse(image, c), where, content);
            }
        }
        for (ImageManifest.Descriptor b : parsed.blobs()) {
            BlobInfo info = storage.blobs().stat(b.digest()).orElseThrow(() -> new BundleException(image + ": "
                    + b.digest() + " (" + b.mediaType() + ") of manifest " + m.digest() + " is not in " + where
                    + missingHint(target, image)));
            content.put(b.digest(), info);
        }
    }

    private ManifestContent manifest(ImageName image, RepoTarget target, Digest digest, String where)
            throws BundleException {
        try {
            return registry.manifest(target.repo(), new Reference.ByDigest(digest));
        } catch (OciException e) {
            throw new BundleException(image + ": manifest " + digest + " is not in " + where
                    + missingHint(target, image));
        }
    }

    private static String missingHint(RepoTarget target, ImageName image) {
        return target instanceof RepoTarget.Proxied
                ? ": pull all of it through the mirror first (ocimirror prefetch " + image + "), or export one"
                + " platform (--platform)"
                : "";
    }

    private static ImageManifest parse(ImageName image, ManifestContent m) throws BundleException {
        try {
            return ImageManifest.parse(Files.readAllBytes(m.blob().path()), m.mediaType());
        } catch (IOException | IllegalArgumentException e) {
            throw new BundleException(image + ": manifest " + m.digest() + ": " + e.getMessage(), e);
        }
    }

    private static byte[] index(List<Top> tops) throws IOException {
        List<Object> manifests = new ArrayList<>();
        for (Top t : tops) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("mediaType", t.descriptor().mediaType());
            d.put("digest", t.descriptor().digest().toString());
            d.put("size", t.descriptor().size());
            Platform p = t.descriptor().platform();
            if (p != null) {
                Map<String, Object> platform = new LinkedHashMap<>();
                platform.put("architecture", p.architecture());
                platform.put("os", p.os());
                if (p.variant() != null) {
                    platform.put("variant", p.variant());
                }
                d.put("platform", platform);
            }
            Map<String, String> annotations = new LinkedHashMap<>();
            // A full name (with a registry host) is also what containerd and Docker name a loaded image.
            if (t.name().host() != null) {
                annotations.put(BundleReader.CONTAINERD_NAME, t.name().toString());
            }
            annotations.put(BundleReader.REF_NAME, t.name().toString());
            d.put("annotations", annotations);
            manifests.add(d);
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        index.put("manifests", manifests);
        return JSON.writeValueAsBytes(index);
    }

    private static void bytes(TarArchiveOutputStream tar, String name, byte[] bytes) throws IOException {
        TarArchiveEntry e = entry(name, 0644);
        e.setSize(bytes.length);
        tar.putArchiveEntry(e);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static void directory(TarArchiveOutputStream tar, String name) throws IOException {
        tar.putArchiveEntry(entry(name, 0755));
        tar.closeArchiveEntry();
    }

    private static void file(TarArchiveOutputStream tar, String name, BlobInfo blob, Progress progress)
            throws IOException {
        TarArchiveEntry e = entry(name, 0644);
        e.setSize(blob.size());
        tar.putArchiveEntry(e);
        byte[] buf = new byte[1 << 16];
        long left = blob.size();
        try (InputStream in = Files.newInputStream(blob.path())) {
            for (int n; left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0; left -= n) {
                tar.write(buf, 0, n);
                progress.advance(n);
            }
        }
        if (left != 0) {
            throw new IOException("blob " + blob.digest() + " shrank while it was exported");
        }
        tar.closeArchiveEntry();
    }

    private static TarArchiveEntry entry(String name, int mode) {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(mode);
        e.setModTime(MTIME);
        return e;
    }
}
