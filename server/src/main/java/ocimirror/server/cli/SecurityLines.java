package ocimirror.server.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import ocimirror.config.AuthConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.ServerCredentials;
import ocimirror.server.auth.HtpasswdAuthenticator;
import ocimirror.server.tls.ServerTls;

/**
 * {@code config check}'s lines for the {@code tls:} and {@code auth:} sections. Each reads the files
 * it names as {@code serve} would (certificate and key pair, given CA, client CA bundle, htpasswd
 * file), so a key that does not match its certificate or an htpasswd entry that is not bcrypt is
 * caught before the server is started. Nothing secret is printed.
 */
final class SecurityLines {

    private SecurityLines() {
    }

    static String tls(MirrorConfig cfg) throws IOException {
        TlsConfig t = cfg.tls();
        String mode = t.mode().name().toLowerCase(Locale.ROOT);
        StringBuilder b = new StringBuilder("tls: ").append(mode);
        switch (t.mode()) {
            case OFF -> {
                return b.append(" (plain HTTP)").toString();
            }
            case GENERATE -> b.append(" CA=").append(cfg.dataDir().resolve(ServerTls.PKI_DIR)
                    .resolve(CertificateAuthority.CA_CERT_FILE)).append(" keyAlgorithm=").append(t.keyAlgorithm().configName());
            case FILES -> {
                if (t.caCertFile() != null) {
                    CertificateAuthority ca = CertificateAuthority.load(t.caCertFile(), t.caKeyFile(), Clock.systemUTC());
                    b.append(" caCertFile=").append(t.caCertFile()).append(" (").append(subject(ca.certificate()))
                            .append(", SHA-256 ").append(ca.fingerprint()).append(')');
                } else {
                    ServerCredentials c = ServerCredentials.load(t.certFile(), t.keyFile(), t.chainFile());
                    b.append(" certFile=").append(t.certFile()).append(" (").append(subject(c.leaf()))
                            .append(", names ").append(String.join(",", c.names().all()))
                            .append(", valid until ").append(c.notAfter()).append(')');
                }
            }
            default -> throw new IllegalStateException(mode);
        }
        if (t.issuesOwnCertificate()) {
            b.append(" hostNames=").append(t.hostNames().isEmpty() ? "(defaults)" : String.join(",", t.hostNames()));
        }
        b.append(" clientAuth=").append(t.clientAuth().name().toLowerCase(Locale.ROOT));
        if (t.clientCaFile() != null) {
            List<X509Certificate> cas = Pem.readCertificates(t.clientCaFile());
            b.append(" clientCaFile=").append(t.clientCaFile()).append(" (").append(cas.size())
                    .append(cas.size() == 1 ? " certificate)" : " certificates)");
        }
        return b.toString();
    }

    static String auth(AuthConfig a) throws IOException {
        if (!a.enabled()) {
            return "auth: none (clients are not authenticated)";
        }
        List<String> users = HtpasswdAuthenticator.users(a.htpasswd());
        String rights = a.users().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue().name().toLowerCase(Locale.ROOT))
                .collect(Collectors.joining(","));
        return "auth: htpasswd=" + a.htpasswd() + " (" + users.size() + (users.size() == 1 ? " user)" : " users)")
                + " realm=\"" + a.realm() + "\" defaultAccess=" + a.defaultAccess().name().toLowerCase(Locale.ROOT)
                + (rights.isEmpty() ? "" : " users=" + rights);
    }

    private static String subject(X509Certificate c) {
        return c.getSubjectX500Principal().getName();
    }
}
