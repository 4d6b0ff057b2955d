package ocimirror.server.cli;

import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServer;
import ocimirror.server.access.LogSetup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ocimirror} on the command line. Exit codes: 0 after a clean stop, 1 if the server
 * could not start (port taken, data directory locked), 2 for a bad configuration or usage.
 */
@Command(name = "ocimirror", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "An OCI registry and pull-through mirror.",
        subcommands = {Main.Serve.class, ConfigCommand.class, CaCommand.class, DoctorCommand.class,
                ImportCommand.class, ExportCommand.class, PrefetchCommand.class,
                PinCommand.class, GcCommand.class, VerifyCommand.class, TrainingRunCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    static final int EXIT_CONFIG = 2;
    private static final String NETTY_JFR = "io.netty.jfr.enabled";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // Where Flight Recorder is available, Netty's allocator asks it about an event for every
        // buffer allocated and freed; the first asking registers the event classes, which starts
        // JFR's metadata machinery in every process (about 100 classes; measured: 4-5 MiB and
        // 0.13 s of a start) for events nobody records unless asked. -Dio.netty.jfr.enabled=true
        // brings them back.
        if (System.getProperty(NETTY_JFR) == null) {
            System.setProperty(NETTY_JFR, "false");
        }
        Serve serve = Serve.quick(args);
        System.exit(serve != null ? serve.run() : run(args));
    }

    /** Runs the command line and returns the exit code. */
    static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }

    /** As {@link #run(String...)}, printing to {@code out} and {@code err} (tests). */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        return new CommandLine(new Main()).setOut(out).setErr(err).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Runs the registry until SIGTERM or SIGINT.")
    static final class Serve implements Callable<Integer> {
        private static final Logger log = LoggerFactory.getLogger(Serve.class);
        private static final PrintWriter STDERR = new PrintWriter(System.err, true);

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--listen", paramLabel = "HOST:PORT",
                description = "Address to listen on (default: 0.0.0.0:5000, or the config file's).")
        String listen;

        @Option(names = "--data", paramLabel = "DIR",
                description = "Data directory for blobs and metadata (default: ./data, or the config file's).")
        Path data;

        @Option(names = "--config", paramLabel = "FILE",
                description = "YAML or JSON configuration file, the whole truth; --listen and --data override it."
                        + " Without it: Docker Hub (default), gcr.io, ghcr.io, quay.io and registry.k8s.io are"
                        + " proxied, and local/ is hosted.")
        Path config;

        @Option(names = "--plain-http",
                description = "Serve plain HTTP instead of HTTPS (tls.mode: off). By default the mirror serves"
                        + " HTTPS with a CA it generates under <data>/pki (ocimirror ca export hands it to clients).")
        boolean plainHttp;

        @Option(names = "--no-warmup",
                description = "Report ready at once instead of after warming the request paths up (warmup.enabled: false).")
        boolean noWarmup;

        /**
         * A {@code serve} whose arguments are only its own options with their values, parsed here
         * rather than by picocli, which would first reflect over every command's annotations: a
         * third of a second of CPU, as much as the server's own start. Anything else (help,
         * version, a repeated or unknown option, a missing value) is null, and picocli answers it.
         */
        static Serve quick(String... args) {
            if (args.length == 0 || !args[0].equals("serve")) {
                return null;
            }
            Serve serve = new Serve();
            try {
                for (int i = 1; i < args.length; i++) {
                    String name = args[i];
                    String value = null;
                    int eq = name.indexOf('=');
                    if (name.startsWith("--") && eq > 0) {
                        value = name.substring(eq + 1);
                        name = name.substring(0, eq);
                    }
                    if (name.equals("--plain-http")) {
                        if (value != null || serve.plainHttp) {
                            return null;
                        }
                        serve.plainHttp = true;
                        continue;
                    }
                    if (name.equals("--no-warmup")) {
                        if (value != null || serve.noWarmup) {
                            return null;
                        }
                        serve.noWarmup = true;
                        continue;
                    }
                    if (value == null) {
                        if (i + 1 == args.length || args[i + 1].startsWith("-")) {
                            return null;
                        }
                        value = args[++i];
                    }
                    if (value.isEmpty()) {
                        return null;
                    }
                    switch (name) {
                        case "--listen" -> {
                            if (serve.listen != null) {
                                return null;
                            }
                            serve.listen = value;
                        }
                        case "--data" -> {
                            if (serve.data != null) {
                                return null;
                            }
                            serve.data = Path.of(value);
                        }
                        case "--config" -> {
                            if (serve.config != null) {
                                return null;
                            }
                            serve.config = Path.of(value);
                        }
                        default -> {
                            return null;
                        }
                    }
                }
            } catch (InvalidPathException e) {
                return null;
            }
            return serve;
        }

        /** {@link #call}, with the exit code picocli would give for an exception. */
        int run() {
            try {
                return call();
            } catch (Exception e) {
                e.printStackTrace(err());
                err().flush();
                return 1;
            }
        }

        private PrintWriter err() {
            return spec != null ? spec.commandLine().getErr() : STDERR;
        }

        @Override
        public Integer call() throws Exception {
            MirrorConfig cfg;
            try {
                cfg = configuration();
                LogSetup.apply(LogSetup.effective(cfg.observability().log().format(), System.getenv()));
            } catch (ConfigException | IllegalArgumentException e) {
                PrintWriter err = err();
                err.println("ocimirror: " + e.getMessage());
                err.flush();
                return EXIT_CONFIG;
            }
            MirrorServer server;
            try {
                server = MirrorServer.start(cfg);
            } catch (Exception e) {
                PrintWriter err = err();
                err.println("ocimirror: cannot start on " + cfg.listen() + " with data in " + cfg.dataDir() + ": " + e);
                err.flush();
                return 1;
            }
            if (cfg.warmup().enabled()) {
                server.warmUp(cfg.warmup().maxDuration());
            }
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                LogSetup.stop(); // writes out the last access lines
                stopped.countDown();
            }, "ocimirror-shutdown"));
            log.info("ocimirror {} serving on {}", Version.current(), server.localAddress());
            stopped.await();
            return 0;
        }

        // Package-private for tests: which configuration serve would run with.
        MirrorConfig configuration() throws ConfigException {
            MirrorConfig cfg = config == null ? MirrorConfig.embedded() : ConfigLoader.load(config);
            if (listen != null) {
                try {
                    cfg = cfg.withListen(MirrorConfig.Listen.parse(listen));
                } catch (IllegalArgumentException e) {
                    throw new ConfigException("--listen: " + e.getMessage());
                }
            }
            if (data != null) {
                cfg = cfg.withDataDir(data);
            }
            if (plainHttp) {
                cfg = cfg.withTls(TlsConfig.off());
            }
            if (noWarmup) {
                cfg = cfg.withWarmup(new MirrorConfig.Warmup(false, cfg.warmup().maxDuration()));
            }
            return cfg;
        }
    }

    /** The version from the jar's manifest ("dev" when run from classes). */
    static final class Version implements CommandLine.IVersionProvider {
        static String current() {
            String v = Main.class.getPackage().getImplementationVersion();
            return v == null ? "dev" : v;
        }

        @Override
        public String[] getVersion() {
            return new String[] {"ocimirror " + current()};
        }
    }
}
