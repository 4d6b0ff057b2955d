package ocimirror.server.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.util.List;
import java.util.concurrent.Callable;
import ocimirror.config.CacheConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.server.cache.PinnedImage;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.Storage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ocimirror pin add|rm|ls}: images kept cached and refreshed on their tag TTL, stored in the
 * data directory beside those of {@code cache.pins}. With {@code --server}, through a running
 * server's admin listener ({@code /admin/pins}), in force at once; without, on a stopped server's
 * data directory, read at its next start. The output is the same either way.
 */
@Command(name = "pin", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Pins images: they are never evicted and are refreshed on their tag TTL."
                + " With --server URL: through a running server's admin listener (metrics.adminListen),"
                + " in force at once. Without: on a stopped server's data directory (RocksDB is locked"
                + " while it runs); the server picks the pins up at its next start."
                + " cache.pins in the config pins too.",
        subcommands = {PinCommand.Add.class, PinCommand.Remove.class, PinCommand.Ls.class,
                CommandLine.HelpCommand.class})
final class PinCommand implements Runnable {
    /** What to do when the data directory is locked: the running server takes pins itself. */
    static final String IN_USE = " (is the server running? pin through its admin listener instead:"
            + " --server http://HOST:PORT, the address of metrics.adminListen in its config)";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Shared: talk to the server, or load the configuration and open the store; run; report. */
    abstract static class Base implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        OfflineStore store;

        @Option(names = "--server", paramLabel = "URL",
                description = "A running server's admin listener, such as http://127.0.0.1:9090"
                        + " (metrics.adminListen); --data and --config are not used then.")
        URI server;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                return server != null ? remote(new AdminPinClient(server), out, err) : offline(out, err);
            } catch (AdminPinClient.Unreachable e) {
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

        private int offline(PrintWriter out, PrintWriter err) {
            MirrorConfig cfg = store.configurationOrReport(err);
            if (cfg == null) {
                return Main.EXIT_CONFIG;
            }
            UpstreamRouter router = new UpstreamRouter(cfg.upstreams(), cfg.hosted());
            try (Storage storage = OfflineStore.open(cfg, IN_USE)) {
                return run(cfg, router, storage, out, err);
            } catch (OfflineStore.Unavailable e) {
                err.println("ocimirror: " + e.getMessage());
                return 1;
            }
        }

        abstract int run(MirrorConfig cfg, UpstreamRouter router, Storage storage, PrintWriter out, PrintWriter err);

        abstract int remote(AdminPinClient server, PrintWriter out, PrintWriter err) throws AdminPinClient.Unreachable;
    }

    /** Refused before any request, with the message the server and {@code cache.pins} give. */
    static void checkSyntax(String image) {
        if (!CacheConfig.isImageReference(image)) {
            throw new IllegalArgumentException("'" + image + "' is not an image reference such as"
                    + " docker.io/library/alpine:3.20");
        }
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

        @Override
        int remote(AdminPinClient server, PrintWriter out, PrintWriter err) throws AdminPinClient.Unreachable {
            images.forEach(PinCommand::checkSyntax);
            for (String image : images) {
                AdminPinClient.Answer a = server.put(image);
                if (!a.ok()) {
                    err.println("ocimirror: " + image + ": " + a.error()
                            + (a.status() == 404 || a.status() == 405 ? server.notAdmin() : ""));
                    return a.status() == 400 ? Main.EXIT_CONFIG : 1;
                }
                // The server fetches the image in the background from now on.
                out.println((a.status() == 201 ? "pinned " : "already pinned ") + image);
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

        @Override
        int remote(AdminPinClient server, PrintWriter out, PrintWriter err) throws AdminPinClient.Unreachable {
            images.forEach(PinCommand::checkSyntax);
            int status = 0;
            for (String image : images) {
                AdminPinClient.Answer a = server.delete(image);
                if (a.ok()) {
                    out.println("unpinned " + image);
                } else if (a.status() == 403) {
                    err.println("ocimirror: " + image + " is not pinned here (it is in the config file's cache.pins)");
                    status = 1;
                } else if (a.status() == 404) {
                    err.println("ocimirror: " + image + " is not pinned");
                    status = 1;
                } else {
                    err.println("ocimirror: " + image + ": " + a.error() + (a.status() == 405 ? server.notAdmin() : ""));
                    return 1;
                }
            }
            return status;
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Lists the pins: the config file's (config) and those added by pin add (data)."
                    + " With --server: the pins in force in the running server.")
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

        @Override
        int remote(AdminPinClient server, PrintWriter out, PrintWriter err) throws AdminPinClient.Unreachable {
            for (AdminPinClient.Entry e : server.list()) {
                // The API's "store" is the data directory: the same word as offline, for scripts.
                out.println(e.image() + "\t" + ("store".equals(e.source()) ? "data" : e.source()));
            }
            return 0;
        }
    }
}
