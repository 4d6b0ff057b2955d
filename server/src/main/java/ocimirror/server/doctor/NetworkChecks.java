package ocimirror.server.doctor;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import ocimirror.config.CaCertificates;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.UpstreamProbes;

/**
 * The transport checks of one upstream, in the order a connection makes them: DNS, TCP connect,
 * TLS handshake with exactly the trust the mirror's client has for it. Blocking, each step
 * bounded by the timeout.
 */
final class NetworkChecks {

    private final UpstreamConfig upstream;
    private final String host;
    private final Duration timeout;
    private final Clock clock;

    NetworkChecks(UpstreamConfig upstream, Duration timeout, Clock clock) {
        this.upstream = Objects.requireNonNull(upstream, "upstream");
        String h = upstream.host();
        this.host = h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    private String subject(String check) {
        return "upstream '" + upstream.name() + "' " + check;
    }

    /** The addresses of the upstream's host, or empty after a failure (reported). */
    List<InetAddress> dns(Consumer<Check> out) {
        String literal = CertificateNames.ipLiteral(host);
        if (literal != null) {
            try {
                InetAddress a = InetAddress.getByName(host); // a literal: parsed, not looked up
                out.accept(Check.ok(subject("dns"), host + " is an IP address: nothing to resolve"));
                return List.of(a);
            } catch (UnknownHostException e) {
                // not a literal after all: resolve it below
            }
        }
        String fix = "check the host in the url of upstream '" + upstream.name() + "' (" + upstream.url()
                + ") and this machine's resolver (/etc/resolv.conf, /etc/hosts); `getent hosts " + host + "` shows"
                + " what it answers";
        // getAllByName has no timeout of its own: run it aside and stop waiting after ours.
        FutureTask<InetAddress[]> lookup = new FutureTask<>(() -> InetAddress.getAllByName(host));
        Thread t = new Thread(lookup, "doctor-dns-" + host);
        t.setDaemon(true);
        t.start();
        try {
            List<InetAddress> addresses = List.of(lookup.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
            out.accept(Check.ok(subject("dns"), host + " resolves to "
                    + addresses.stream().map(InetAddress::getHostAddress).collect(Collectors.joining(", "))));
            return addresses;
        } catch (ExecutionException e) {
            String why = e.getCause() instanceof UnknownHostException
                    ? "no such host (the resolver knows no address for it)" : String.valueOf(e.getCause());
            out.accept(Check.fail(subject("dns"), "cannot resolve '" + host + "': " + why, fix));
        } catch (TimeoutException e) {
            lookup.cancel(true);
            out.accept(Check.fail(subject("dns"), "resolving '" + host + "' took longer than " + seconds(timeout),
                    "the DNS server is slow or unreachable: " + fix));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.accept(Check.fail(subject("dns"), "interrupted while resolving '" + host + "'", fix));
        }
        return List.of();
    }

    /** The first address that accepts a TCP connection, or empty after a failure (reported). */
    Optional<InetAddress> tcp(List<InetAddress> addresses, Consumer<Check> out) {
        int port = upstream.port();
        List<String> failures = new ArrayList<>();
        boolean allRefused = true;
        boolean anyTimeout = false;
        for (InetAddress a : addresses) {
            long start = System.nanoTime();
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(a, port), millis());
                long ms = (System.nanoTime() - start) / 1_000_000;
                out.accept(Check.ok(subject("tcp"), "connected to " + hostPort(a, port) + " in " + ms + " ms"));
                return Optional.of(a);
            } catch (IOException e) {
                String why;
                if (e instanceof ConnectException) {
                    why = "connection refused";
                } else if (e instanceof SocketTimeoutException) {
                    why = "timed out after " + seconds(timeout);
                    anyTimeout = true;
                } else if (e instanceof NoRouteToHostException) {
                    why = "no route to host";
                } else {
                    why = String.valueOf(e.getMessage());
                }
                allRefused &= e instanceof ConnectException;
                failures.add(hostPort(a, port) + ": " + why);
            }
        }
        String fix;
        if (allRefused) {
            fix = "nothing listens on port " + port + " of " + host + ": check that the registry runs and that the url of"
                    + " upstream '" + upstream.name() + "' (" + upstream.url() + ") names the right port";
        } else if (anyTimeout) {
            fix = "packets to " + host + ":" + port + " go unanswered: check firewalls and routes between this machine and"
                    + " the upstream (ocimirror connects directly, through no HTTP proxy)";
        } else {
            fix = "check the network path from this machine to " + host + ":" + port;
        }
        out.accept(Check.fail(subject("tcp"), "cannot connect to " + host + ":" + port + ": "
                + String.join("; ", failures), fix));
        return Optional.empty();
    }

    /**
     * Handshakes with the trust configured for the upstream and explains a refusal; returns the
     * context to talk HTTPS with (the same trust), or empty after a failure (reported).
     */
    Optional<SSLContext> tls(InetAddress address, Consumer<Check> out) {
        X509ExtendedTrustManager trust;
        List<X509Certificate> caCertContents;
        try {
            trust = UpstreamProbes.trustManager(upstream);
            caCertContents = upstream.caCert() == null ? List.of() : CaCertificates.read(upstream.caCert());
        } catch (IllegalArgumentException e) {
            out.accept(Check.fail(subject("tls"), e.getMessage(), "point caCert of upstream '" + upstream.name()
                    + "' at a readable PEM file of the CA certificate(s) that issued the upstream's certificate"));
            return Optional.empty();
        }
        RecordingTrustManager recording = new RecordingTrustManager(trust);
        int port = upstream.port();
        String where = hostPort(address, port);
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(address, port), millis());
            raw.setSoTimeout(millis());
            try (SSLSocket s = (SSLSocket) context(recording).getSocketFactory().createSocket(raw, host, port, true)) {
                SSLParameters p = s.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS"); // the host name check the mirror's client makes
                s.setSSLParameters(p);
                s.startHandshake();
                out.accept(Check.ok(subject("tls"), describe(s.getSession(), trust, caCertContents)));
                return Optional.of(context(trust));
            }
        } catch (SSLException e) {
            X509Certificate[] chain = recording.serverChain();
            if (chain == null || chain.length == 0) {
                out.accept(handshakeFailed(where, e));
                return Optional.empty();
            }
            TlsDiagnosis d = new TlsDiagnosis(chain, trust, upstream.caCert(), caCertContents, upstream.name());
            List<TlsDiagnosis.Problem> problems = d.problems(host, clock.instant());
            if (problems.isEmpty()) {
                out.accept(Check.fail(subject("tls"), "handshake with " + where + " refused the certificate '"
                        + CertificateNames.subject(d.leaf()) + "': " + e.getMessage(),
                        "compare it with what `openssl s_client -connect " + host + ":" + port + " -showcerts`"
                                + " shows and the caCert of upstream '" + upstream.name() + "'"));
            }
            for (TlsDiagnosis.Problem problem : problems) {
                out.accept(Check.fail(subject("tls"), problem.message(), problem.fix()));
            }
        } catch (IOException e) {
            out.accept(handshakeFailed(where, e));
        } catch (GeneralSecurityException e) {
            out.accept(Check.fail(subject("tls"), "cannot set up TLS in this JVM: " + e.getMessage(),
                    "check the Java installation (its security providers)"));
        }
        return Optional.empty();
    }

    private Check handshakeFailed(String where, IOException e) {
        String why = e instanceof SocketTimeoutException ? "no answer within " + seconds(timeout) : e.getMessage();
        return Check.fail(subject("tls"), "TLS handshake with " + where + " failed: " + why,
                "check that " + upstream.url() + " speaks HTTPS on port " + upstream.port()
                        + "; for a registry without TLS, give upstream '" + upstream.name()
                        + "' an http:// url and plainHttp: true");
    }

    private String describe(SSLSession session, X509ExtendedTrustManager trust, List<X509Certificate> caCertContents) {
        X509Certificate[] chain;
        try {
            chain = Arrays.stream(session.getPeerCertificates()).map(X509Certificate.class::cast)
                    .toArray(X509Certificate[]::new);
        } catch (IOException e) {
            return session.getProtocol() + " handshake accepted";
        }
        TlsDiagnosis d = new TlsDiagnosis(chain, trust, upstream.caCert(), caCertContents, upstream.name());
        X509Certificate leaf = d.leaf();
        String anchor = d.anchor().map(a -> ", chains to '" + CertificateNames.subject(a) + "' from " + d.origin(a))
                .orElse("");
        return session.getProtocol() + ", certificate '" + CertificateNames.subject(leaf) + "' for "
                + CertificateNames.coveredPhrase(leaf) + anchor + ", valid until "
                + CertificateNames.date(leaf.getNotAfter().toInstant());
    }

    private static SSLContext context(X509ExtendedTrustManager trust) throws GeneralSecurityException {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {trust}, null);
        return ctx;
    }

    private int millis() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
    }

    static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static String hostPort(InetAddress a, int port) {
        return (a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress()) + ":" + port;
    }
}
