package ocimirror.server.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import ocimirror.config.MirrorConfig;
import ocimirror.server.cache.PinnedImage;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code ocimirror pin add|rm|ls}: images kept cached and refreshed on their tag TTL, stored in the
 * data directory beside those of {@code cache.pins}. Offline: the server reads them at start.
 */
@Command(name = "pin", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Pins images: they are never evicted and are refreshed on their tag TTL.",
                "Works on a stopped server's data directory (RocksDB is locked while it runs);",
                "the server picks the pins up at its next start. cache.pins in the config pins too."},
        subcommands = {PinCommand.Add.class, PinCommand.Remove.class, PinCommand.Ls.class,
                CommandLine.HelpCommand.class})
final class PinCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Shared: load the configuration, open the store, run, report. */
    abstract static class Base implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        OfflineStore store;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            MirrorConfig cfg = store.configurationOrReport(err);
            if (cfg == null) {
                return Main.EXIT_CONFIG;
            }
            UpstreamRouter router = new UpstreamRouter(cfg.upstreams(), cfg.hosted());
            try (Storage storage = OfflineStore.open(cfg)) {
                return run(cfg, router, storage, out, err);
            } catch (OfflineStore.Unavailable e) {
                err.println("ocimirror: " + e.getMessage());
                return 1;
            } catch (IllegalArgumentException e) {
                err.println("ocimirror: " + e.getMessage());
                return Main.EXIT_CONFIG;
            } finally {
                out.flush();
                err.flush();
            }
        }

        abstract int run(MirrorConfig cfg, UpstreamRouter router, Storage storage, PrintWriter out, PrintWriter err);
    }

    @Command(name = "add", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Pins IMAGE (docker.io/library/alpine:3.20, gcr.io/distroless/static@sha256:...).")
    static final class Add extends Base {
        @Parameters(paramLabel = "IMAGE", arity = "1..*")
        List<String> images;

        @Override
        int run(MirrorConfig cfg, UpstreamRouter router, Storage storage, PrintWriter out, PrintWriter err) {
            for (String image : images) {
                PinnedImage pin = PinnedImage.resolve(image, router); // refuses what the server could not route
                out.println((storage.index().addPin(image) ? "pinned " : "already pinned ") + pin);
            }
            return 0;
        }
    }

    @Command(name = "rm", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Unpins IMAGE (as it was added; pins in the config file stay until removed there).")
    static final class Remove extends Base {
        @Parameters(paramLabel = "IMAGE", arity = "1..*")
        List<String> images;

        @Override
        int run(MirrorConfig cfg, UpstreamRouter router, Storage storage, PrintWriter out, PrintWriter err) {
            int status = 0;
            for (String image : images) {
                if (storage.index().removePin(image)) {
                    out.println("unpinned " + image);
                } else {
                    err.println("ocimirror: " + image + " is not pinned"
                            + (cfg.cache().pins().contains(image) ? " here (it is in the config file's cache.pins)" : ""));
                    status = 1;
                }
            }
            return status;
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Lists the pins: the config file's (config) and those added here (data).")
    static final class Ls extends Base {
        @Override
        int run(MirrorConfig cfg, UpstreamRouter router, Storage storage, PrintWriter out, PrintWriter err) {
            for (String image : cfg.cache().pins()) {
                out.println(image + "\tconfig");
            }
            for (String image : storage.index().pins()) {
                if (!cfg.cache().pins().contains(image)) {
                    out.println(image + "\tdata");
                }
            }
            return 0;
        }
    }
}
