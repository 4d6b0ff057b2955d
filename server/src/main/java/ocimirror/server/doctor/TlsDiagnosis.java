package ocimirror.server.doctor;

import static ocimirror.server.doctor.CertificateNames.date;
import static ocimirror.server.doctor.CertificateNames.issuer;
import static ocimirror.server.doctor.CertificateNames.subject;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.X509TrustManager;

/**
 * Reads the certificate chain a server sent against the trust configured for it and says, in
 * words an operator can act on, what a client would refuse: a certificate outside its
 * validity, a chain that ends at a CA nobody trusts, a host name the certificate does not
 * cover. Pure: no network, time given.
 */
final class TlsDiagnosis {

    /** One thing wrong with the chain, and what to do about it. */
    record Problem(String message, String fix) {
    }

    private final X509Certificate[] chain;
    private final X509TrustManager trust;
    private final List<X509Certificate> caCertContents;
    private final Path caCert;
    private final String upstream;

    /**
     * @param chain          what the server sent, leaf first (at least one certificate)
     * @param trust          the trust configured for it (system plus {@code caCert})
     * @param caCert         the upstream's caCert file, or null
     * @param caCertContents the certificates in that file (empty without one)
     * @param upstream       the upstream's name, for the fixes
     */
    TlsDiagnosis(X509Certificate[] chain, X509TrustManager trust, Path caCert, List<X509Certificate> caCertContents,
                 String upstream) {
        if (chain.length == 0) {
            throw new IllegalArgumentException("empty chain");
        }
        this.chain = chain.clone();
        this.trust = trust;
        this.caCert = caCert;
        this.caCertContents = List.copyOf(caCertContents);
        this.upstream = upstream;
    }

    X509Certificate leaf() {
        return chain[0];
    }

    /** Every problem found, validity first, then trust, then the name; empty when a client would accept it. */
    List<Problem> problems(String host, Instant now) {
        List<Problem> out = new ArrayList<>(validity(now));
        untrusted().ifPresent(out::add);
        name(host).ifPresent(out::add);
        return out;
    }

    /** The trusted certificate the chain ends at, if it ends at one. */
    Optional<X509Certificate> anchor() {
        X509Certificate[] anchors = trust.getAcceptedIssuers();
        for (X509Certificate c : chain) {
            for (X509Certificate a : anchors) {
                if (a.equals(c)) {
                    return Optional.of(a);
                }
            }
        }
        X509Certificate top = chain[chain.length - 1];
        return sameNameAnchors(top).stream().filter(a -> signedBy(top, a)).findFirst();
    }

    /** Where the anchor comes from: {@code caCert FILE} or {@code the system trust}. */
    String origin(X509Certificate anchor) {
        return caCertContents.contains(anchor) ? "caCert " + caCert : "the system trust";
    }

    List<Problem> validity(Instant now) {
        List<Problem> out = new ArrayList<>();
        for (int i = 0; i < chain.length; i++) {
            X509Certificate c = chain[i];
            String which = "certificate '" + subject(c) + "'" + (i == 0 ? "" : " (a CA in the chain it sent)");
            Instant notAfter = c.getNotAfter().toInstant();
            Instant notBefore = c.getNotBefore().toInstant();
            if (now.isAfter(notAfter)) {
                out.add(new Problem(which + " expired on " + date(notAfter),
                        "the upstream's operator must renew it (if it looks valid from elsewhere, check this"
                                + " machine's clock, which says " + date(now) + ")"));
            } else if (now.isBefore(notBefore)) {
                out.add(new Problem(which + " is not valid before " + date(notBefore),
                        "check this machine's clock (it says " + date(now) + "); if it is right, the certificate"
                                + " was issued with a start date in the future and must be reissued"));
            }
        }
        return out;
    }

    Optional<Problem> untrusted() {
        if (anchor().isPresent()) {
            return Optional.empty();
        }
        X509Certificate top = chain[chain.length - 1];
        boolean selfSigned = top.getSubjectX500Principal().equals(top.getIssuerX500Principal()) && signedBy(top, top);
        String endsAt = selfSigned ? subject(top) : issuer(top);
        StringBuilder msg = new StringBuilder("certificate chain ends at '").append(endsAt).append("'");
        if (!selfSigned) {
            msg.append(" (the issuer of '").append(subject(top)).append("', not sent by the server)");
        } else if (chain.length == 1) {
            msg.append(" (a self-signed certificate)");
        }
        msg.append(", which is not trusted");
        List<X509Certificate> impostors = selfSigned ? List.of() : sameNameAnchors(top);
        if (!impostors.isEmpty()) {
            msg.append(": ").append(origin(impostors.get(0)))
                    .append(" holds a certificate of that name but with another key (was the CA re-created?)");
        } else {
            msg.append(": add it as caCert");
        }
        String fix;
        if (caCert == null) {
            fix = "set caCert of upstream '" + upstream + "' to a PEM file holding the certificate of '" + endsAt
                    + "' (ask the upstream's operator for it; `openssl s_client -showcerts` shows what the server sends)";
        } else if (!impostors.isEmpty()) {
            fix = "replace caCert " + caCert + " of upstream '" + upstream + "' with the current certificate of '"
                    + endsAt + "'";
        } else {
            fix = "caCert " + caCert + " of upstream '" + upstream + "' holds " + subjects(caCertContents) + ", not '"
                    + endsAt + "': point it at (or append to it) the PEM certificate of '" + endsAt + "'";
        }
        return Optional.of(new Problem(msg.toString(), fix));
    }

    Optional<Problem> name(String host) {
        X509Certificate leaf = leaf();
        if (CertificateNames.covers(leaf, host)) {
            return Optional.empty();
        }
        List<String> names = CertificateNames.covered(leaf);
        String fix = "have the upstream's certificate reissued with subjectAltName "
                + (CertificateNames.ipLiteral(host) != null ? "IP:" : "DNS:") + host
                + (names.isEmpty() ? "" : ", or use a name it covers in the url of upstream '" + upstream + "' (and make"
                + " that name resolve to the upstream)");
        return Optional.of(new Problem("certificate '" + subject(leaf) + "' does not cover '" + host + "'; it covers "
                + CertificateNames.coveredPhrase(leaf), fix));
    }

    private List<X509Certificate> sameNameAnchors(X509Certificate c) {
        return Arrays.stream(trust.getAcceptedIssuers())
                .filter(a -> a.getSubjectX500Principal().equals(c.getIssuerX500Principal()))
                .toList();
    }

    private static boolean signedBy(X509Certificate c, X509Certificate issuer) {
        try {
            c.verify(issuer.getPublicKey());
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    private static String subjects(List<X509Certificate> certs) {
        return certs.stream().map(c -> "'" + subject(c) + "'").reduce((a, b) -> a + ", " + b).orElse("nothing");
    }
}
