package ocimirror.server.cli;

import io.netty.channel.EventLoopGroup;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.Durations;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.server.doctor.Doctor;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.server.upstream.UpstreamClient;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ocimirror doctor}: checks each upstream (DNS, TCP, TLS against its configured trust,
 * credentials, a manifest HEAD) and the mirror's own certificate, one line per check and a
 * {@code fix:} line under each failure. Exit codes: 0 nothing failed, 1 a check failed, 2 usage
 * or configuration error.
 */
@Command(name = "doctor", sortOptions = false, mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Checks what the mirror depends on and says what to fix: for each upstream DNS, TCP connect,"
                + " the TLS certificate against the trust configured for it (caCert), the credentials and a"
                + " manifest HEAD; for the mirror, whether its certificate covers the names clients use and"
                + " when it expires. Exit status 0 when nothing failed, 1 otherwise, 2 for usage errors.",
        footer = {"", "Examples:",
                "  ocimirror doctor --config /etc/ocimirror/config.yaml --name mirror.example.com",
                "  ocimirror doctor --config config.yaml --upstream corp --repo team/app:1.0"})
public final class DoctorCommand implements Callable<Integer> {
    static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Configuration file (default: what serve runs without one: Docker Hub, gcr.io, ghcr.io,"
                    + " quay.io, registry.k8s.io).")
    Path config;

    @Option(names = "--upstream", paramLabel = "NAME", description = "Check only this upstream (and the mirror only"
            + " if --name or --cert is given).")
    String upstream;

    @Option(names = "--repo", paramLabel = "REPO:TAG", description = "Image to HEAD on each upstream checked (default:"
            + " library/alpine:latest on Docker Hub, none elsewhere).")
    String repo;

    @Option(names = "--data", paramLabel = "DIR", description = "Data directory whose pki/server.crt is checked"
            + " (default: the config file's, else ./data).")
    Path data;

    @Option(names = "--name", paramLabel = "HOST", description = "A host name or address clients use for the mirror;"
            + " its certificate must cover it. Repeatable (default: the config's tls.hostNames).")
    List<String> names = new ArrayList<>();

    @Option(names = "--cert", paramLabel = "FILE", description = "The mirror's certificate file to check instead"
            + " (TLS files mode).")
    Path cert;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "Bound on each network step: 500ms, 10s, 1m (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Doctor doctor;
        EventLoopGroup[] group = new EventLoopGroup[1];
        Clock clock = Clock.systemUTC();
        try {
            MirrorConfig cfg = config == null ? MirrorConfig.embedded() : ConfigLoader.load(config);
            Path dataDir = data != null ? data : cfg.dataDir();
            TlsConfig tls = cfg.tls();
            // The names clients use default to the ones the certificate is configured for; a mirror
            // serving plain HTTP has no certificate to check unless one is named.
            List<String> clientNames = names.isEmpty() ? tls.hostNames() : names;
            boolean checkMirror = cert != null || (tls.enabled() && (upstream == null || !names.isEmpty()));
            Path served = tls.mode() == TlsConfig.Mode.FILES && tls.certFile() != null ? tls.certFile()
                    : dataDir.resolve("pki").resolve(CertificateAuthority.SERVER_CERT_FILE);
            Path mirrorCert = !checkMirror ? null : cert != null ? cert : served;
            Doctor.Options options = new Doctor.Options(Optional.ofNullable(upstream), parseTimeout(timeout),
                    Optional.ofNullable(repo), mirrorCert, cert != null || tls.certFile() != null, clientNames);
            doctor = new Doctor(cfg.upstreams(), options, clock, u -> client(u, group, clock));
        } catch (ConfigException | IllegalArgumentException e) {
            err.println("ocimirror doctor: " + e.getMessage());
            err.flush();
            return EXIT_USAGE;
        }
        try {
            Doctor.Summary summary = doctor.run(c -> {
                for (String line : c.lines()) {
                    out.println(line);
                }
                out.flush();
            });
            out.println("doctor: " + summary);
            out.flush();
            return summary.exitStatus();
        } finally {
            if (group[0] != null) {
                group[0].shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    // The event loop group only exists once a manifest HEAD needs the mirror's client.
    private static UpstreamClient client(UpstreamConfig u, EventLoopGroup[] group, Clock clock) {
        if (group[0] == null) {
            group[0] = NettyUpstreamClient.newEventLoopGroup(1);
        }
        return NettyUpstreamClient.create(u, group[0], clock);
    }

    /** As in the configuration file: {@code 500ms}, {@code 10s}, {@code 1m}, seconds, or ISO-8601. */
    static Duration parseTimeout(String s) {
        try {
            Duration d = Durations.parse(s);
            if (d.isZero()) {
                throw new IllegalArgumentException("must be positive");
            }
            return d;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--timeout: '" + s + "' is not a duration such as 500ms, 10s or 1m");
        }
    }
}
