package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import ocimirror.config.MirrorConfig;
import ocimirror.config.Sizes;
import ocimirror.server.cache.CacheRepos;
import ocimirror.storage.Storage;
import ocimirror.storage.cache.StoreVerifier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ocimirror verify [--repair]}: re-hashes every blob and checks the metadata against the
 * files, offline. Exit status 0 when consistent (or everything found was repaired), 1 otherwise.
 */
@Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Checks a stopped server's data directory: re-hashes every blob, and checks blob records"
                + " against files, manifests, tags and links against what they point at. One line per problem."
                + " With --repair, removes what is inconsistent. Exit status 0 when clean (or repaired), 1 otherwise.")
final class VerifyCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    OfflineStore store;

    @Option(names = "--repair", description = "Remove corrupt and orphaned files and the records, manifests, tags and"
            + " links that point at nothing; then rebuild the eviction index.")
    boolean repair;

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
            StoreVerifier.Report report = new StoreVerifier(storage, repos::hosted).verify(repair,
                    line -> {
                        out.println("verify: " + line);
                        out.flush();
                    });
            for (StoreVerifier.Problem p : report.problems()) {
                out.println(p);
            }
            long unrepaired = report.problems().stream().filter(p -> !p.repaired()).count();
            out.println("verify: " + report.blobsChecked() + " blobs (" + Sizes.format(report.bytesChecked())
                    + ") re-hashed; " + report.problems().size() + " problem(s)"
                    + (repair ? ", " + (report.problems().size() - unrepaired) + " repaired" : "")
                    + (report.clean() ? ": consistent" : ""));
            return unrepaired == 0 ? 0 : 1;
        } catch (OfflineStore.Unavailable e) {
            err.println("ocimirror: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("ocimirror: verify: " + e.getMessage());
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }
}
