package ocimirror.server.doctor;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import javax.security.auth.x500.X500Principal;
import ocimirror.config.pki.ServerNames;

/** What a certificate is called and which host names it covers, worded for the doctor's lines. */
final class CertificateNames {

    private CertificateNames() {
    }

    /** The subject as {@code CN=...,O=...} (RFC 2253). */
    static String subject(X509Certificate c) {
        return c.getSubjectX500Principal().getName(X500Principal.RFC2253);
    }

    static String issuer(X509Certificate c) {
        return c.getIssuerX500Principal().getName(X500Principal.RFC2253);
    }

    /** The DNS names and IP addresses of the subjectAltName, DNS names first; empty if it has none. */
    static List<String> covered(X509Certificate c) {
        try {
            return ServerNames.fromCertificate(c).all();
        } catch (IllegalArgumentException none) {
            return List.of();
        }
    }

    /** {@link #covered} as one phrase for a message, IPv6 addresses in their short form. */
    static String coveredPhrase(X509Certificate c) {
        List<String> names = covered(c);
        return names.isEmpty() ? "no names at all (it has no subjectAltName, and clients ignore the CN)"
                : names.stream().map(CertificateNames::shortIpv6).collect(Collectors.joining(", "));
    }

    /** {@code 0:0:0:0:0:0:0:1} as {@code ::1}: the longest run of zero groups folded (RFC 5952); others unchanged. */
    static String shortIpv6(String name) {
        String[] g = name.split(":", -1);
        if (g.length != 8 || name.indexOf('.') >= 0) {
            return name;
        }
        int bestStart = -1;
        int bestLen = 1; // a single zero group stays
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && g[j].equals("0")) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        if (bestStart < 0) {
            return name;
        }
        String head = String.join(":", Arrays.copyOfRange(g, 0, bestStart));
        String tail = String.join(":", Arrays.copyOfRange(g, bestStart + bestLen, 8));
        return head + "::" + tail;
    }

    /**
     * Whether {@code host} (a DNS name or an IP literal, IPv6 with or without brackets) is among
     * the certificate's subjectAltNames, a {@code *.} wildcard standing for exactly one left-most
     * label, as HTTPS clients match them.
     */
    static boolean covers(X509Certificate c, String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        String ip = ipLiteral(h);
        for (String name : covered(c)) {
            if (ip != null) {
                if (name.equals(ip)) {
                    return true;
                }
            } else if (matchesDns(name, h.toLowerCase(Locale.ROOT))) {
                return true;
            }
        }
        return false;
    }

    /** The canonical text of {@code host} if it is an IP literal, else null (no DNS lookup). */
    static String ipLiteral(String host) {
        boolean v4 = host.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
        boolean v6 = host.indexOf(':') >= 0 && host.matches("[0-9a-fA-F:.%]+");
        if (!v4 && !v6) {
            return null;
        }
        try {
            return InetAddress.getByName(host).getHostAddress(); // a literal: parsed, not looked up
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static boolean matchesDns(String pattern, String host) {
        String h = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        if (!pattern.startsWith("*.")) {
            return pattern.equals(h);
        }
        int dot = h.indexOf('.');
        return dot > 0 && h.substring(dot + 1).equals(pattern.substring(2));
    }

    /** An instant to the second, {@code 2031-05-04T10:00:00Z}. */
    static String date(Instant t) {
        return t.truncatedTo(ChronoUnit.SECONDS).toString();
    }
}
