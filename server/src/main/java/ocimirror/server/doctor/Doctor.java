package ocimirror.server.doctor;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.UpstreamClient;

/**
 * {@code ocimirror doctor}: for each upstream, DNS, TCP, TLS (with exactly the trust configured
 * for it), credentials and a manifest {@code HEAD}; for the mirror itself, the names and the
 * validity of its certificate. Each check reports one {@link Check} as soon as it is done; a
 * check that cannot run after an earlier failure is reported as skipped. Blocking: run it on a
 * thread of its own (the command line's).
 */
public final class Doctor {

    /**
     * What to check.
     *
     * @param upstream     only the upstream of this name; empty: all of them
     * @param timeout      bound on each network step (the manifest HEAD gets three times as long)
     * @param repo         the image to HEAD on every upstream ({@code REPO:TAG} or {@code REPO@DIGEST});
     *                     empty: {@value ImageRef#DOCKER_HUB_DEFAULT} on Docker Hub, nothing elsewhere
     * @param mirrorCert   the mirror's certificate file, or null to leave the mirror unchecked
     * @param certExplicit whether the operator named {@code mirrorCert} (a missing file then fails)
     * @param names        host names clients use for the mirror; each must be covered
     */
    public record Options(Optional<String> upstream, Duration timeout, Optional<String> repo, Path mirrorCert,
                          boolean certExplicit, List<String> names) {
        public Options {
            Objects.requireNonNull(upstream, "upstream");
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("--timeout must be positive, got " + timeout);
            }
            Objects.requireNonNull(repo, "repo");
            names = List.copyOf(names);
        }
    }

    /** How the checks went. */
    public record Summary(int ok, int warnings, int failures, int skipped) {
        /** The exit status: 0 when nothing failed, 1 otherwise. */
        public int exitStatus() {
            return failures == 0 ? 0 : 1;
        }

        @Override
        public String toString() {
            return ok + " ok, " + warnings + (warnings == 1 ? " warning, " : " warnings, ") + failures + " failed"
                    + (skipped == 0 ? "" : ", " + skipped + " skipped");
        }
    }

    private final List<UpstreamConfig> upstreams;
    private final Options options;
    private final Optional<ImageRef> repo;
    private final Clock clock;
    private final Function<UpstreamConfig, UpstreamClient> clients;

    /**
     * @param upstreams the configured upstreams
     * @param clients   builds the mirror's client for an upstream (the manifest HEAD goes through it);
     *                  each client is closed after use
     * @throws IllegalArgumentException when {@code options} name an unknown upstream or a malformed repo
     */
    public Doctor(List<UpstreamConfig> upstreams, Options options, Clock clock,
                  Function<UpstreamConfig, UpstreamClient> clients) {
        this.options = Objects.requireNonNull(options, "options");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.clients = Objects.requireNonNull(clients, "clients");
        List<UpstreamConfig> all = List.copyOf(upstreams);
        if (options.upstream().isPresent()) {
            String name = options.upstream().get();
            all = all.stream().filter(u -> u.name().equals(name)).toList();
            if (all.isEmpty()) {
                throw new IllegalArgumentException("--upstream: no upstream is named '" + name + "' (upstreams: "
                        + (upstreams.isEmpty() ? "none" : upstreams.stream().map(UpstreamConfig::name)
                        .collect(Collectors.joining(", "))) + ")");
            }
        }
        this.upstreams = all;
        try {
            this.repo = options.repo().map(ImageRef::parse);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--repo: " + e.getMessage(), e);
        }
    }

    /** Runs every check, handing each result to {@code out} as it comes. */
    public Summary run(Consumer<Check> out) {
        int[] counts = new int[Check.Status.values().length];
        Consumer<Check> counting = c -> {
            counts[c.status().ordinal()]++;
            out.accept(c);
        };
        for (UpstreamConfig u : upstreams) {
            if (u.authorization().upstream()) {
                // Said first, whatever the network checks find: it changes who may pull, not whether.
                counting.accept(Check.ok("upstream '" + u.name() + "' authorization", "delegated: clients may read"
                        + " its repositories if the upstream accepts their own credentials (authorization: upstream,"
                        + " answers remembered " + u.authorization().ttl().toSeconds() + " s); the mirror's auth:"
                        + " section does not apply to them"));
            }
            if (u.urls().size() == 1) {
                upstream(u, u.implicitLibraryPrefix(), counting);
                continue;
            }
            // Every URL of an upstream with several, each line naming the URL it is about.
            for (int i = 0; i < u.urls().size(); i++) {
                UpstreamConfig one = u.forUrl(i);
                String prefix = "upstream '" + u.name() + "'";
                String named = prefix + " url " + one.url();
                upstream(one, u.implicitLibraryPrefix(), c -> counting.accept(c.subject().startsWith(prefix)
                        ? new Check(c.status(), named + c.subject().substring(prefix.length()), c.message(), c.fix())
                        : c));
            }
        }
        if (options.mirrorCert() != null) {
            new MirrorCertificateCheck(options.mirrorCert(), options.certExplicit(), options.names(), clock).run(counting);
        }
        return new Summary(counts[Check.Status.OK.ordinal()], counts[Check.Status.WARN.ordinal()],
                counts[Check.Status.FAIL.ordinal()], counts[Check.Status.SKIP.ordinal()]);
    }

    private void upstream(UpstreamConfig u, boolean dockerHubNames, Consumer<Check> out) {
        NetworkChecks net = new NetworkChecks(u, options.timeout(), clock);
        List<InetAddress> addresses = net.dns(out);
        if (addresses.isEmpty()) {
            out.accept(skipped(u, "tcp, tls, credentials, manifest", "dns"));
            return;
        }
        Optional<InetAddress> address = net.tcp(addresses, out);
        if (address.isEmpty()) {
            out.accept(skipped(u, "tls, credentials, manifest", "tcp"));
            return;
        }
        SSLContext tls = null;
        if (u.plainHttp()) {
            out.accept(Check.skip("upstream '" + u.name() + "' tls", "plainHttp: the upstream is reached without TLS"));
        } else {
            Optional<SSLContext> ctx = net.tls(address.get(), out);
            if (ctx.isEmpty()) {
                out.accept(skipped(u, "credentials, manifest", "tls"));
                return;
            }
            tls = ctx.get();
        }
        RegistryChecks registry = new RegistryChecks(u, options.timeout(), clock);
        if (!registry.credentials(tls, out)) {
            out.accept(skipped(u, "manifest", "credentials"));
            return;
        }
        Optional<ImageRef> image = repo.isPresent() ? repo
                : dockerHubNames ? Optional.of(ImageRef.parse(ImageRef.DOCKER_HUB_DEFAULT)) : Optional.empty();
        if (image.isEmpty()) {
            out.accept(Check.skip("upstream '" + u.name() + "' manifest", "no repository to try: give --repo REPO:TAG"
                    + " to HEAD one"));
            return;
        }
        registry.manifest(image.get(), clients, out);
    }

    private static Check skipped(UpstreamConfig u, String checks, String failed) {
        return Check.skip("upstream '" + u.name() + "' " + checks, "not checked after the " + failed + " failure");
    }
}
