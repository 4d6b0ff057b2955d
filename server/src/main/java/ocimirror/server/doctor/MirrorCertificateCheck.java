package ocimirror.server.doctor;

import static ocimirror.server.doctor.CertificateNames.date;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.ServerNames;

/**
 * The mirror's own server certificate: does it cover every host name clients use to reach the
 * mirror, and how long is it valid. Reads the certificate file only; the mirror need not run.
 */
final class MirrorCertificateCheck {

    /** Under this much validity left, a warning (generate mode renews at the same mark). */
    static final Duration WARN_BEFORE = CertificateAuthority.RENEW_BEFORE;

    private final Path certFile;
    private final boolean explicit;
    private final List<String> names;
    private final Clock clock;

    /**
     * @param certFile the certificate (PEM, leaf first)
     * @param explicit whether the operator named the file ({@code --cert}); a missing default file
     *                 ({@code <data>/pki/server.crt}) is then no failure: the mirror may not have
     *                 started yet, or serve files mode or plain HTTP
     * @param names    host names and IP addresses clients use for the mirror
     */
    MirrorCertificateCheck(Path certFile, boolean explicit, List<String> names, Clock clock) {
        this.certFile = Objects.requireNonNull(certFile, "certFile");
        this.explicit = explicit;
        this.names = List.copyOf(names);
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    void run(Consumer<Check> out) {
        if (!Files.exists(certFile)) {
            String msg = "no certificate at " + certFile;
            String fix = "ocimirror writes it on its first start in TLS mode generate (--data "
                    + dataDirOf(certFile) + "); in files mode, give --cert with the tls.certFile";
            if (explicit) {
                out.accept(Check.fail("mirror certificate", msg, "give --cert the mirror's certificate file"));
            } else if (names.isEmpty()) {
                out.accept(Check.skip("mirror certificate", msg + " (not started yet, or not generate mode)"));
            } else {
                out.accept(Check.warn("mirror certificate", msg + ", so the names cannot be checked", fix));
            }
            return;
        }
        X509Certificate leaf;
        try {
            List<X509Certificate> chain = Pem.readCertificates(certFile);
            if (chain.isEmpty()) {
                throw new IOException("no certificate in it");
            }
            leaf = chain.get(0);
        } catch (IOException | IllegalArgumentException e) {
            out.accept(Check.fail("mirror certificate", "cannot read " + certFile + ": " + e.getMessage(),
                    "replace it with a PEM certificate (in generate mode, delete it and restart: ocimirror issues a"
                            + " new one)"));
            return;
        }
        names(leaf, out);
        expiry(leaf, out);
    }

    private void names(X509Certificate leaf, Consumer<Check> out) {
        if (names.isEmpty()) {
            out.accept(Check.skip("mirror names", "give --name HOST for each host name or address clients use to"
                    + " reach the mirror; " + certFile + " covers " + CertificateNames.coveredPhrase(leaf)));
            return;
        }
        for (String name : names) {
            boolean covered;
            try {
                covered = ServerNames.of(List.of(name)).missingFrom(leaf).isEmpty()
                        || CertificateNames.covers(leaf, name); // a wildcard of a files-mode certificate
            } catch (IllegalArgumentException e) {
                out.accept(Check.fail("mirror names", "'" + name + "' is not a host name or IP address: "
                        + e.getMessage(), "give --name the host name clients use, e.g. mirror.example.com"));
                continue;
            }
            if (covered) {
                out.accept(Check.ok("mirror names", certFile + " covers '" + name + "'"));
            } else {
                out.accept(Check.fail("mirror names", certFile + " does not cover '" + name + "'; it covers "
                                + CertificateNames.coveredPhrase(leaf),
                        "add " + name + " to tls.hostNames and restart ocimirror (generate mode, or files mode with"
                                + " caCertFile, issues a new certificate); with your own certFile, have it reissued"
                                + " with subjectAltName " + (CertificateNames.ipLiteral(name) != null ? "IP:" : "DNS:")
                                + name));
            }
        }
    }

    private void expiry(X509Certificate leaf, Consumer<Check> out) {
        Instant now = clock.instant();
        Instant notAfter = leaf.getNotAfter().toInstant();
        Instant notBefore = leaf.getNotBefore().toInstant();
        String renew = "restart ocimirror: in generate mode (or files mode with caCertFile) it issues a new certificate"
                + " when less than " + WARN_BEFORE.toDays() + " days are left; with your own certFile, replace the file"
                + " (it is reloaded without a restart)";
        if (now.isAfter(notAfter)) {
            out.accept(Check.fail("mirror expiry", certFile + " expired on " + date(notAfter)
                    + ": clients refuse it", renew));
        } else if (now.isBefore(notBefore)) {
            out.accept(Check.fail("mirror expiry", certFile + " is not valid before " + date(notBefore),
                    "check this machine's clock (it says " + date(now) + ")"));
        } else {
            long days = Duration.between(now, notAfter).toDays();
            String msg = certFile + " is valid until " + date(notAfter) + " (" + days + " days left)";
            if (Duration.between(now, notAfter).compareTo(WARN_BEFORE) < 0) {
                out.accept(Check.warn("mirror expiry", msg, renew));
            } else {
                out.accept(Check.ok("mirror expiry", msg));
            }
        }
    }

    private static Path dataDirOf(Path certFile) {
        Path pki = certFile.toAbsolutePath().getParent();
        return pki == null || pki.getParent() == null ? Path.of("DIR") : pki.getParent();
    }
}
