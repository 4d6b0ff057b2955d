package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import ocimirror.config.CaCertificates;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.CredentialSource;
import ocimirror.config.CredentialsException;
import ocimirror.config.MirrorConfig;
import ocimirror.config.ObservabilityConfig;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.SharedBackends;
import ocimirror.config.Sizes;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.cache.PinnedImage;
import ocimirror.server.image.ImageName;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code ocimirror config ...}: work on configuration files without starting anything. */
@Command(name = "config", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Configuration file tools.",
        subcommands = {ConfigCommand.Check.class, CommandLine.HelpCommand.class})
final class ConfigCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "check", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Loads and validates FILE as serve --config would, also reading every caCert,"
                    + " dockerConfig, passwordFile, TLS file and htpasswd file it names, and prints one line per"
                    + " upstream, then the hosted namespaces, pull-through, TLS and client authentication."
                    + " Exit status 0 when valid, 2 otherwise (the error names the file and field).")
    static final class Check implements Callable<Integer> {

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "FILE", description = "YAML or JSON configuration file.")
        Path file;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                MirrorConfig cfg = ConfigLoader.load(file);
                checkRules(cfg);
                for (UpstreamConfig u : cfg.upstreams()) {
                    out.println(describe(u));
                }
                out.println(cfg.upstreams().isEmpty()
                        ? "no upstreams: a plain registry, every repository is hosted"
                        : "hosted: " + (cfg.hosted().isEmpty() ? "(none)" : String.join(", ", cfg.hosted()))
                                + (cfg.defaultUpstream().isPresent() ? ""
                                : "; no default upstream: names that select none are hosted"));
                out.println("pullThrough: prefetchLayers=" + cfg.pullThrough().prefetchLayers()
                        + " negativeCacheTtl=" + format(cfg.pullThrough().negativeCacheTtl())
                        + (cfg.pullThrough().prefetch().isEmpty() ? ""
                        : " prefetch=" + String.join(",", cfg.pullThrough().prefetch()))
                        + (cfg.pullThrough().prefetchPlatforms().isEmpty() ? ""
                        : " prefetchPlatforms=" + String.join(",", cfg.pullThrough().prefetchPlatforms())));
                out.println(SecurityLines.tls(cfg));
                out.println(SecurityLines.auth(cfg.auth()));
                var metrics = cfg.observability().metrics();
                out.println("metrics: public=" + metrics.publicMetrics() + " adminListen="
                        + (metrics.adminListen() == null ? "(none)" : metrics.adminListen())
                        + " cacheSizeInterval=" + format(metrics.cacheSizeInterval())
                        + "; log: format=" + cfg.observability().log().format().name().toLowerCase(java.util.Locale.ROOT)
                        + " audit=" + audit(cfg.observability().log().audit()));
                out.println("shutdown: gracePeriod=" + format(cfg.shutdown().gracePeriod()));
                out.println("warmup: enabled=" + cfg.warmup().enabled() + " maxDuration="
                        + format(cfg.warmup().maxDuration()));
                out.println(storage(cfg));
                out.println(file + ": OK");
                out.flush();
                return 0;
            } catch (ConfigException | CredentialsException | IllegalArgumentException | IOException e) {
                err.println("ocimirror: " + e.getMessage());
                err.flush();
                return Main.EXIT_CONFIG;
            }
        }

        private static String storage(MirrorConfig cfg) {
            SharedBackends s = cfg.shared();
            if (s == null) {
                return "storage: a single node: blobs and metadata under " + cfg.dataDir()
                        + " (deleteEnabled=" + cfg.storage().deleteEnabled() + ")";
            }
            SharedBackends.S3 b = s.s3();
            SharedBackends.Postgres pg = s.postgres();
            return "storage: shared: blobs in bucket " + b.bucket() + (b.prefix().isEmpty() ? "" : " under " + b.prefix())
                    + " at " + b.endpoint() + " (" + b.region() + ", " + (b.pathStyle() ? "path" : "virtual-host")
                    + " style, credentials from the AWS environment), local tier " + Sizes.format(s.tierMaxBytes())
                    + " under " + cfg.dataDir() + "; metadata in " + pg.redactedUrl() + " as " + pg.user()
                    + " (password from " + pg.passwordFile() + ", " + pg.maxConnections() + " connections)"
                    + " (deleteEnabled=" + cfg.storage().deleteEnabled() + ")";
        }

        private static String audit(ObservabilityConfig.Audit a) {
            if (a == null) {
                return "off";
            }
            return (a.file() == null ? "stdout" : a.file() + " maxSize=" + a.maxSize() + " keep=" + a.keep())
                    + (a.blobs() ? " (manifests and blobs)" : " (manifests)");
        }

        /**
         * One line (and one more per URL of an upstream with several); reads the credentials and
         * CA files so that a bad one fails the check. A credential helper is not run (it may ask a
         * remote service): {@code doctor} runs it.
         */
        private static String describe(UpstreamConfig u) {
            boolean several = u.urls().size() > 1;
            StringBuilder perUrl = new StringBuilder();
            for (int i = 0; several && i < u.urls().size(); i++) {
                UpstreamConfig one = u.forUrl(i);
                perUrl.append("\n  url ").append(one.url()).append(access(one, "upstream '" + u.name() + "' url "
                        + one.url()));
            }
            return "upstream " + u.name() + ": " + (several ? u.urls().stream().map(x -> x.url().toString())
                            .collect(Collectors.joining(",")) : u.url())
                    + " aliases=" + (u.aliases().isEmpty() ? "(none)" : String.join(",", u.aliases()))
                    + (u.isDefault() ? " default" : "")
                    + (several ? "" : access(u, "upstream '" + u.name() + "'"))
                    + " tagTtl=" + format(u.tagTtl())
                    + (u.plainHttp() ? " plainHttp" : "")
                    + (u.rules().allow().isEmpty() ? "" : " allow=" + String.join(",", u.rules().allow()))
                    + (u.rules().deny().isEmpty() ? "" : " deny=" + String.join(",", u.rules().deny()))
                    + u.limits().describe()
                    + (u.authorization().upstream() ? " authorization=upstream authorizationTtl="
                            + format(u.authorization().ttl()) : "")
                    + perUrl;
        }

        /** {@code credentials=... caCert=...} of a one-URL upstream, never a secret. */
        private static String access(UpstreamConfig u, String what) {
            Optional<RegistryCredentials> creds;
            try {
                creds = u.credentials() instanceof CredentialSource.Helper ? Optional.empty()
                        : RegistryCredentials.resolve(u.credentials(), u.authority());
            } catch (CredentialsException e) {
                throw new CredentialsException(what + ": " + e.getMessage(), e);
            }
            String ca = "";
            if (u.caCert() != null) {
                List<X509Certificate> certs;
                try {
                    certs = CaCertificates.read(u.caCert());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(what + ": " + e.getMessage(), e);
                }
                ca = " caCert=" + u.caCert() + " (" + certs.size() + (certs.size() == 1 ? " certificate)" : " certificates)");
            }
            return " credentials=" + credentials(u.credentials(), creds) + ca;
        }

        /**
         * A prefetched or pinned image that its upstream's allow and deny rules refuse: the server
         * would only log it and skip it, so the check fails and names the entry.
         */
        private void checkRules(MirrorConfig cfg) {
            UpstreamRouter router = new UpstreamRouter(cfg.upstreams(), cfg.hosted());
            List<String> prefetch = cfg.pullThrough().prefetch();
            for (int i = 0; i < prefetch.size(); i++) {
                String image = prefetch.get(i);
                refusedByRules("pullThrough.prefetch[" + i + "]", image, () -> ImageName.parse(image).resolve(router));
            }
            List<String> pins = cfg.cache().pins();
            for (int i = 0; i < pins.size(); i++) {
                String image = pins.get(i);
                refusedByRules("cache.pins[" + i + "]", image, () -> PinnedImage.resolve(image, router));
            }
        }

        private void refusedByRules(String field, String image, Runnable route) {
            try {
                route.run();
            } catch (RuntimeException e) {
                // Other routing failures are the server's to report as before; only DENIED is new here.
                Throwable t = e instanceof OciException ? e : e.getCause();
                if (t instanceof OciException o && o.error() == OciError.DENIED) {
                    throw new IllegalArgumentException(file + ": " + field + ": '" + image + "' is refused by"
                            + " its upstream's rules: " + o.detail(), e);
                }
            }
        }

        private static String credentials(CredentialSource source, Optional<RegistryCredentials> creds) {
            String user = creds.map(c -> " (user " + c.username() + ")").orElse("");
            if (source instanceof CredentialSource.DockerConfig d) {
                return "dockerConfig " + d.file() + user;
            }
            if (source instanceof CredentialSource.PasswordFile p) {
                return "passwordFile " + p.passwordFile() + user;
            }
            if (source instanceof CredentialSource.Helper h) {
                return "helper " + h.helper() + ", lifetime " + format(h.lifetime());
            }
            return "anonymous";
        }
    }

    /** {@code 10m}, {@code 1h30m}, {@code 45s}, {@code 0s}: how durations are written in the file. */
    static String format(Duration d) {
        if (d.isZero()) {
            return "0s";
        }
        StringBuilder b = new StringBuilder();
        long days = d.toDays();
        if (days > 0) {
            b.append(days).append('d');
        }
        if (d.toHoursPart() > 0) {
            b.append(d.toHoursPart()).append('h');
        }
        if (d.toMinutesPart() > 0) {
            b.append(d.toMinutesPart()).append('m');
        }
        if (d.toSecondsPart() > 0) {
            b.append(d.toSecondsPart()).append('s');
        }
        if (d.toMillisPart() > 0) {
            b.append(d.toMillisPart()).append("ms");
        }
        return b.toString();
    }
}
