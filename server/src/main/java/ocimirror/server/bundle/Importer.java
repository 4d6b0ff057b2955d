package ocimirror.server.bundle;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import ocimirror.config.MirrorConfig;
import ocimirror.server.image.ImageManifest;
import ocimirror.server.image.ImageName;
import ocimirror.server.progress.Progress;
import ocimirror.server.pullthrough.CacheRecords;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code ocimirror import}: loads a bundle into a data directory the server is not running on,
 * writing the same records the server writes, through the same code: a hosted namespace as if
 * pushed ({@link RegistryService#putManifest}), or an upstream's cache as if pulled through
 * just now ({@link CacheRecords}), so that a node asking the mirror for {@code gcr.io/...}
 * hits with every upstream down.
 *
 * <p>In three steps, so that a bad bundle leaves nothing behind: (1) read the bundle (a tar is
 * streamed once into the ingest area) and check every manifest against its digest and every
 * referenced blob's presence; (2) commit every blob, each verified against its digest as it
 * is committed (a layer of a {@code docker save} against its {@code diff_id}); if one fails,
 * the blobs this import added are deleted again and nothing is recorded; (3) record manifests,
 * links and tags, image by image. A manifest the registry refuses in step 3 (say, a hosted
 * manifest that fails the push checks) stops the import there, with the images before it
 * imported.
 */
public final class Importer {
    private static final Logger log = LoggerFactory.getLogger(Importer.class);

    private final Storage storage;
    private final MirrorConfig config;
    private final RegistryService registry;
    private final CacheRecords cache;
    private final UpstreamRouter router;

    /** Where the bundle's images go. */
    public sealed interface Target {
        /** Each image where a request for its name would be routed (alias, hosted, default upstream). */
        record AsNamed() implements Target {
        }

        /** Into hosted namespace {@code namespace}: {@code local/<repository without host>}. */
        record Namespace(String namespace) implements Target {
        }

        /** Into the cache of the upstream with this alias or name. */
        record Upstream(String alias) implements Target {
        }
    }

    /**
     * @param target where the images go
     * @param name   {@code REPO[:TAG]} for the image of a one-image bundle, or for those the
     *               bundle leaves unnamed (a bare tag the bundle gives them is kept); null for none
     */
    public record Options(Target target, String name) {
        public Options {
            requireNonNull(target, "target");
        }
    }

    /** One image imported: its name in the bundle (or digest), where it went, and its root digest. */
    public record Imported(String source, String destination, Digest digest) {
    }

    /** What an import did: the images, and the blobs it added to the store. */
    public record Result(List<Imported> images, int blobs, int blobsAdded, long bytesAdded) {
    }

    /** Where one image goes. */
    private sealed interface Destination {
        Reference ref();

        String describe();

        record Hosted(RepoName repo, Reference ref) implements Destination {
            public String describe() {
                return "hosted " + repo + (ref instanceof Reference.ByDigest ? "@" : ":") + ref;
            }
        }

        record Cached(RepoTarget.Proxied target, Reference ref) implements Destination {
            public String describe() {
                return "cache of upstream '" + target.upstream().name() + "' " + target.upstreamRepo()
                        + (ref instanceof Reference.ByDigest ? "@" : ":") + ref;
            }
        }
    }

    public Importer(Storage storage, MirrorConfig config, Clock clock) {
        this.storage = requireNonNull(storage, "storage");
        this.config = requireNonNull(config, "config");
        this.registry = new RegistryService(storage.blobs(), storage.metadata(), clock, RegistryService.Settings.from(config));
        this.cache = new CacheRecords(storage.blobs(), storage.metadata(), clock);
        this.router = new UpstreamRouter(config.upstreams(), config.hosted());
    }

    /**
     * Checks {@code options} against the configuration before any work.
     *
     * @throws IllegalArgumentException naming the configured namespaces or upstreams
     */
    public static void check(MirrorConfig config, Options options) {
        UpstreamRouter router = new UpstreamRouter(config.upstreams(), config.hosted());
        if (options.target() instanceof Target.Namespace ns) {
            if (!MirrorConfig.isValidNamespace(ns.namespace())) {
                throw new IllegalArgumentException("--namespace " + ns.namespace()
                        + ": not a lower-case repository path component");
            }
            if (router.proxies() && !config.hosted().contains(ns.namespace())) {
                throw new IllegalArgumentException("--namespace " + ns.namespace() + " is not a hosted namespace of"
                        + " this configuration (hosted: " + config.hosted() + "); the mirror would proxy it");
            }
        } else if (options.target() instanceof Target.Upstream up) {
            String alias = up.alias().toLowerCase(Locale.ROOT);
            if (config.upstreams().stream().noneMatch(u -> u.selectors().contains(alias))) {
                throw new IllegalArgumentException("--upstream " + up.alias() + " names no upstream of this"
                        + " configuration (configured: " + String.join(", ", router.selectors()) + ")");
            }
        }
        if (options.name() != null) {
            ImageName.parse(options.name());
        }
    }

    /**
     * Imports {@code source}, a bundle tar (plain, gzip, xz or bzip2) or an unpacked layout directory.
     *
     * @param progress makes the progress of a step ("reading bundle.tar.gz", "storing")
     * @throws BundleException for a bundle that is malformed, incomplete or damaged, or images
     *                         that cannot go where asked
     */
    public Result run(Path source, Options options, Function<String, Progress> progress) throws IOException {
        check(config, options);
        BundleFiles files;
        if (Files.isDirectory(source)) {
            files = new DirBundle(source, storage.blobs());
        } else {
            try (Progress p = progress.apply("reading " + source.getFileName())) {
                files = TarBundle.stage(source, storage.blobs(), p);
            }
        }
        try (files) {
            Bundle bundle = BundleReader.read(files, config.limits().maxManifestBytes());
            Map<Bundle.Root, Destination> placed = place(bundle, options);
            Set<Digest> added = new HashSet<>();
            Map<Digest, BlobInfo> committed = commitAll(files, bundle, progress, added);
            List<Imported> imported = new ArrayList<>();
            for (Map.Entry<Bundle.Root, Destination> e : placed.entrySet()) {
                Bundle.Root root = e.getKey();
                record(bundle, root, e.getValue(), committed);
                String source0 = root.name() != null ? root.name() : root.tag() != null ? root.tag() : root.digest().toString();
                imported.add(new Imported(source0, e.getValue().describe(), root.digest()));
                log.info("imported {} as {}", source0, e.getValue().describe());
            }
            long bytes = added.stream().mapToLong(d -> committed.get(d).size()).sum();
            return new Result(imported, committed.size(), added.size(), bytes);
        }
    }

    /** Verifies and commits every blob; on a failure deletes what this import added and throws. */
    private Map<Digest, BlobInfo> commitAll(BundleFiles files, Bundle bundle, Function<String, Progress> progress,
                                            Set<Digest> added) throws IOException {
        Map<Digest, BlobInfo> committed = new HashMap<>();
        long total = bundle.blobs.values().stream().mapToLong(c -> Math.max(0, c.size())).sum();
        try (Progress p = progress.apply("storing")) {
            p.total(total);
            for (Bundle.Content c : bundle.blobs.values()) {
                boolean existed = storage.blobs().stat(c.digest()).isPresent();
                try {
                    committed.put(c.digest(), files.commit(c.path(), c.digest(), c.size(), p));
                    if (!existed) {
                        added.add(c.digest());
                    }
                } catch (OciException e) {
                    rollback(added);
                    throw new BundleException(files.describe() + ": " + c.path() + " is not blob " + c.digest()
                            + " (" + e.detail() + "): the bundle is damaged or was altered; nothing imported");
                } catch (IOException | RuntimeException e) {
                    rollback(added);
                    throw e;
                }
            }
        }
        return committed;
    }

    private void rollback(Set<Digest> added) {
        for (Digest d : added) {
            try {
                if (storage.metadata().getBlob(d).isEmpty()) {
                    storage.blobs().delete(d);
                }
            } catch (IOException | RuntimeException e) {
                log.warn("could not remove {} after the failed import: {}", d, e.toString());
            }
        }
        added.clear();
    }

    /** Decides where each image goes, before anything is written. */
    private Map<Bundle.Root, Destination> place(Bundle bundle, Options options) throws BundleException {
        Map<Bundle.Root, Destination> out = new LinkedHashMap<>();
        Map<String, Digest> taken = new HashMap<>();
        boolean single = bundle.roots.stream().map(Bundle.Root::digest).distinct().count() == 1;
        for (Bundle.Root root : bundle.roots) {
            ImageName name = nameOf(root, single, options.name());
            Destination d;
            try {
                if (name.reference() instanceof Reference.ByDigest byDigest && !byDigest.digest().equals(root.digest())) {
                    throw new BundleException(root.where() + ": named " + name + " but its digest is " + root.digest());
                }
                d = destination(name, options.target());
            } catch (OciException | IllegalArgumentException e) {
                throw new BundleException(root.where() + ": " + name + ": " + e.getMessage());
            }
            Digest other = taken.putIfAbsent(d.describe(), root.digest());
            if (other != null && !other.equals(root.digest())) {
                throw new BundleException("two images of the bundle would both be " + d.describe() + " ("
                        + other + " and " + root.digest() + "); name them apart with --name or in the bundle");
            }
            out.putIfAbsent(root, d);
        }
        return out;
    }

    private static ImageName nameOf(Bundle.Root root, boolean single, String override) throws BundleException {
        try {
            if (override != null && (single || root.name() == null)) {
                if (hasReference(override)) {
                    return ImageName.parse(override);
                }
                String tag = root.tag() != null ? root.tag()
                        : root.name() != null ? ImageName.parse(root.name()).reference().toString() : "latest";
                return ImageName.parse(override + (tag.indexOf(':') >= 0 ? "@" : ":") + tag);
            }
            if (root.name() != null) {
                return ImageName.parse(root.name());
            }
        } catch (IllegalArgumentException e) {
            throw new BundleException(root.where() + ": " + e.getMessage());
        }
        throw new BundleException(root.where() + ": image " + root.digest() + " has no name in the bundle"
                + (root.tag() != null ? " (only the tag '" + root.tag() + "')" : "")
                + ": give one with --name REPO" + (root.tag() != null ? "" : "[:TAG]"));
    }

    private static boolean hasReference(String name) {
        return name.indexOf('@') >= 0 || name.lastIndexOf(':') > name.lastIndexOf('/');
    }

    private Destination destination(ImageName name, Target target) {
        if (target instanceof Target.Namespace ns) {
            return new Destination.Hosted(RepoName.of(ns.namespace() + "/" + name.path()), name.reference());
        }
        RepoTarget t = target instanceof Target.Upstream up
                ? router.resolve(name.path(), up.alias().toLowerCase(Locale.ROOT))
                : name.resolve(router);
        if (t instanceof RepoTarget.Proxied p) {
            return new Destination.Cached(p, name.reference());
        }
        return new Destination.Hosted(t.repo(), name.reference());
    }

    /** Writes the records of one image: children first, so that an index never lists an unknown manifest. */
    private void record(Bundle bundle, Bundle.Root root, Destination dest, Map<Digest, BlobInfo> committed)
            throws BundleException {
        for (Bundle.Manifest m : bundle.graph(root.digest())) {
            boolean top = m.digest().equals(root.digest());
            try {
                if (dest instanceof Destination.Hosted h) {
                    for (ImageManifest.Descriptor b : m.parsed().blobs()) {
                        cache.recordBlob(committed.get(b.digest()), b.mediaType());
                        cache.link(h.repo(), b.digest());
                    }
                    Reference ref = top ? h.ref() : new Reference.ByDigest(m.digest());
                    registry.putManifest(h.repo(), ref, m.mediaType(), m.body());
                } else {
                    Destination.Cached c = (Destination.Cached) dest;
                    for (ImageManifest.Descriptor b : m.parsed().blobs()) {
                        cache.recordBlob(committed.get(b.digest()), b.mediaType());
                        cache.link(c.target().repo(), b.digest());
                    }
                    String tag = top && c.ref() instanceof Reference.Tag t ? t.name() : null;
                    cache.putManifest(c.target().repo(), m.digest(), m.body(), m.mediaType(), tag);
                }
            } catch (OciException e) {
                throw new BundleException(root.where() + ": manifest " + m.digest() + " refused for "
                        + dest.describe() + ": " + e.detail() + "; the images listed before it were imported");
            }
        }
    }
}
