package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import ocimirror.config.ConfigException;
import ocimirror.config.MirrorConfig;
import ocimirror.server.bundle.Exporter;
import ocimirror.server.image.ImageName;
import ocimirror.server.image.Platform;
import ocimirror.storage.Storage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ocimirror export}: writes cached or hosted images as an OCI image layout tar, with the
 * server stopped. Exit codes: 0 written, 1 an image (or part of it) is not stored or the data
 * directory is in use, 2 usage or configuration error.
 */
@Command(name = "export", sortOptions = false, mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Writes images from the mirror's data directory (its upstreams' caches and hosted"
                + " repositories, named as clients name them) as an OCI image layout tar for another site's"
                + " ocimirror import, skopeo (oci-archive:) or ctr import; .tar.gz and .tar.xz names compress it."
                + " Every platform of an index by default (all must be cached: ocimirror prefetch fetches them);"
                + " with --platform, index.json names that platform's manifest and only its blobs are written."
                + " Run it with the server stopped (it holds the data directory).",
        footer = {"", "Examples:",
                "  ocimirror export gcr.io/team/app:1 local/tools:2 -o site-b.tar \\",
                "      --config /etc/ocimirror/config.yaml",
                "  ocimirror export nginx:1.27 --platform linux/arm64 -o nginx-arm64.tar.gz \\",
                "      --data /var/lib/ocimirror"})
public final class ExportCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "Images as clients name them: gcr.io/team/app:1,"
            + " local/app@sha256:..., nginx (Docker Hub's library/nginx:latest with the default config).")
    List<String> images = new ArrayList<>();

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The tar to write.")
    Path output;

    @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]", description = "Only this platform of"
            + " multi-platform images (linux/amd64, linux/arm64/v8).")
    String platform;

    @Mixin
    StoreOptions store;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        MirrorConfig cfg;
        List<ImageName> names = new ArrayList<>();
        Platform p;
        try {
            cfg = store.configuration();
            for (String image : images) {
                names.add(ImageName.parse(image));
            }
            p = platform == null ? null : Platform.parse(platform);
            store.interval();
        } catch (ConfigException | IllegalArgumentException e) {
            err.println("ocimirror export: " + e.getMessage());
            err.flush();
            return Main.EXIT_CONFIG;
        }
        try (Storage storage = StoreOptions.open(cfg)) {
            Exporter.Result r = new Exporter(storage, cfg, Clock.systemUTC())
                    .run(names, p, output, store.progress("export", err));
            for (Exporter.Exported e : r.images()) {
                out.println("exported " + e.name() + " (" + e.digest() + ", " + e.mediaType() + ")");
            }
            out.println("export: " + r.images().size() + " image" + (r.images().size() == 1 ? "" : "s") + ", "
                    + r.blobs() + " blobs, " + Sizes.of(r.bytes()) + " to " + output);
            out.flush();
            return 0;
        } catch (IOException | RuntimeException e) {
            err.println("ocimirror export: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            err.flush();
            return 1;
        }
    }
}
