package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import ocimirror.config.ConfigException;
import ocimirror.config.MirrorConfig;
import ocimirror.server.bundle.Importer;
import ocimirror.storage.Storage;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ocimirror import}: loads an image bundle into the data directory, with the server
 * stopped. Exit codes: 0 imported, 1 the bundle could not be imported (nothing was, see
 * {@link Importer}) or the data directory is in use, 2 usage or configuration error.
 */
@Command(name = "import", sortOptions = false, mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Loads images from an OCI image layout (a directory, or a tar: plain, .tar.gz, .tar.xz) or a"
                + " docker save tar into the mirror's data directory, every blob verified against its digest. Images"
                + " go where requests for their names would be routed (an alias prefix selects an upstream's cache,"
                + " a hosted namespace is hosted), or into a hosted namespace (--namespace), or into an upstream's"
                + " cache as if just pulled (--upstream), so that nodes asking for them hit with the upstream"
                + " unreachable. Run it with the server stopped (it holds the data directory).",
        footer = {"", "Examples:",
                "  ocimirror import vendor-images.tar.xz --upstream gcr.io \\",
                "      --config /etc/ocimirror/config.yaml",
                "  ocimirror import app.tar --namespace local --name team/app:1.4",
                "  ocimirror import ./layout --data /var/lib/ocimirror"})
public final class ImportCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE|DIR", description = "The bundle: a tar (compression told by its"
            + " content) or an unpacked OCI image layout directory.")
    Path source;

    @ArgGroup(exclusive = true)
    Where where;

    static final class Where {
        @Option(names = "--namespace", paramLabel = "NS", description = "Hosted namespace to import into: image"
                + " gcr.io/team/app:1 becomes NS/team/app:1.")
        String namespace;

        @Option(names = "--upstream", paramLabel = "ALIAS", description = "Upstream (alias or name) whose cache the"
                + " images seed: gcr.io/team/app:1 or team/app:1 becomes its team/app:1, as if pulled now.")
        String upstream;
    }

    @Option(names = "--name", paramLabel = "REPO[:TAG]", description = "Name for the image of a one-image bundle,"
            + " or for the images the bundle leaves unnamed (with REPO alone, a tag the bundle gives is kept).")
    String name;

    @Mixin
    StoreOptions store;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        MirrorConfig cfg;
        Importer.Options options;
        try {
            cfg = store.configuration();
            Importer.Target target = where == null ? new Importer.Target.AsNamed()
                    : where.namespace != null ? new Importer.Target.Namespace(where.namespace)
                    : new Importer.Target.Upstream(where.upstream);
            options = new Importer.Options(target, name);
            Importer.check(cfg, options);
            store.interval();
            if (!Files.exists(source)) {
                throw new IllegalArgumentException(source + ": no such file or directory");
            }
        } catch (ConfigException | IllegalArgumentException e) {
            err.println("ocimirror import: " + e.getMessage());
            err.flush();
            return Main.EXIT_CONFIG;
        }
        try (Storage storage = StoreOptions.open(cfg)) {
            Importer.Result r = new Importer(storage, cfg, Clock.systemUTC())
                    .run(source, options, store.progress("import", err));
            for (Importer.Imported i : r.images()) {
                out.println("imported " + i.source() + " as " + i.destination() + " (" + i.digest() + ")");
            }
            out.println("import: " + r.images().size() + " image" + (r.images().size() == 1 ? "" : "s") + ", "
                    + r.blobs() + " blobs (" + r.blobsAdded() + " new, " + Sizes.of(r.bytesAdded()) + ") into "
                    + cfg.dataDir());
            out.flush();
            return 0;
        } catch (IOException | RuntimeException e) {
            err.println("ocimirror import: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            err.flush();
            return 1;
        }
    }
}
