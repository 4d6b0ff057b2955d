package ocimirror.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ocimirror ca}: the certificate authority clients must trust. Registered by {@code Main}
 * as a subcommand; on its own it prints its usage.
 */
@Command(name = "ca", description = "The certificate authority clients must trust.",
        subcommands = {CaExportCommand.class, CommandLine.HelpCommand.class})
public final class CaCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
