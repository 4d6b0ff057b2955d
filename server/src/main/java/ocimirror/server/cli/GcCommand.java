package ocimirror.server.cli;

import java.io.PrintWriter;
import java.time.Clock;
import java.util.concurrent.Callable;
import ocimirror.config.MirrorConfig;
import ocimirror.config.Sizes;
import ocimirror.server.cache.CacheRepos;
import ocimirror.storage.Storage;
import ocimirror.storage.cache.HostedGc;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code ocimirror gc}: one garbage collection of the hosted repositories, offline. The server runs
 * the same collection every {@code gc.interval} while it runs.
 */
@Command(name = "gc", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Garbage-collects hosted repositories of a stopped server's data directory: links no"
                + " manifest references (older than gc.gracePeriod) are removed, then blobs nothing links."
                + " The running server does the same every gc.interval.")
final class GcCommand implements Callable<Integer> {

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
        CacheRepos repos = new CacheRepos(cfg.upstreams());
        try (Storage storage = OfflineStore.open(cfg)) {
            HostedGc.Run run = new HostedGc(storage.metadata(), storage.index(), storage.blobs(), Clock.systemUTC(),
                    cfg.gc().gracePeriod(), repos::hosted, (r, d) -> false).run();
            out.println("gc: " + run.repositories() + " hosted repositories, " + run.unlinked()
                    + " unreferenced link(s) removed, " + run.deleted() + " blob(s) deleted, " + Sizes.format(run.freed())
                    + " freed; " + Sizes.format(storage.index().blobBytes()) + " stored");
            return 0;
        } catch (OfflineStore.Unavailable e) {
            err.println("ocimirror: " + e.getMessage());
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }
}
