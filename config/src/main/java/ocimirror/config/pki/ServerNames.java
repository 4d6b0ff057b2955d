package ocimirror.config.pki;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SortedSet;
import java.util.TreeSet;
import org.bouncycastle.util.IPAddress;

/**
 * The names a server certificate must cover, split into DNS names (lower case; {@code *.x}
 * wildcards allowed) and IP addresses (canonical text form, so {@code ::1} and
 * {@code 0:0:0:0:0:0:0:1} are the same entry). Nothing here does a DNS lookup.
 */
public record ServerNames(SortedSet<String> dnsNames, SortedSet<String> ipAddresses) {

    /** Always in a generated server certificate, so local clients and health checks verify. */
    public static final List<String> LOCAL_NAMES = List.of("localhost", "127.0.0.1", "::1");

    public ServerNames {
        dnsNames = Collections.unmodifiableSortedSet(new TreeSet<>(dnsNames));
        ipAddresses = Collections.unmodifiableSortedSet(new TreeSet<>(ipAddresses));
        if (dnsNames.isEmpty() && ipAddresses.isEmpty()) {
            throw new IllegalArgumentException("a server certificate needs at least one name");
        }
    }

    /**
     * Exactly {@code names}, each classified as an IP address literal or a DNS name.
     *
     * @throws IllegalArgumentException for an empty or malformed name
     */
    public static ServerNames of(Collection<String> names) {
        SortedSet<String> dns = new TreeSet<>();
        SortedSet<String> ips = new TreeSet<>();
        for (String raw : names) {
            String n = raw.trim();
            if (n.startsWith("[") && n.endsWith("]")) {
                n = n.substring(1, n.length() - 1);
            }
            if (IPAddress.isValid(n)) {
                ips.add(canonicalIp(n));
            } else {
                dns.add(checkDnsName(raw, n.toLowerCase(Locale.ROOT)));
            }
        }
        return new ServerNames(dns, ips);
    }

    /**
     * {@code names} plus {@link #LOCAL_NAMES} and the machine's host name (when it has one):
     * what the {@code generate} TLS mode issues the server certificate for.
     */
    public static ServerNames withDefaults(Collection<String> names) {
        return withDefaults(names, machineHostName());
    }

    /**
     * As {@link #withDefaults(Collection)} with a given machine host name (null, blank or not a
     * valid DNS name: left out).
     */
    public static ServerNames withDefaults(Collection<String> names, String machineHostName) {
        List<String> all = new ArrayList<>(names);
        all.addAll(LOCAL_NAMES);
        ServerNames named = of(all);
        if (machineHostName == null || machineHostName.isBlank()) {
            return named;
        }
        try {
            all.add(machineHostName.trim());
            return of(all);
        } catch (IllegalArgumentException e) {
            // A host name no certificate can carry (an underscore, say) is left out rather than
            // stopping the server: clients cannot verify it anyway.
            return named;
        }
    }

    /**
     * This machine's host name, without a DNS lookup (which can hang for seconds on a badly
     * configured node): the kernel's on Linux, else {@code HOSTNAME}, else what the JDK reports.
     * Null when there is none.
     */
    public static String machineHostName() {
        try {
            Path kernel = Path.of("/proc/sys/kernel/hostname");
            if (Files.isReadable(kernel)) {
                String h = Files.readString(kernel, StandardCharsets.US_ASCII).trim();
                if (!h.isEmpty()) {
                    return h;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // Fall through to the other sources.
        }
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env.trim();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /** All names, DNS names first. */
    public List<String> all() {
        List<String> out = new ArrayList<>(dnsNames);
        out.addAll(ipAddresses);
        return out;
    }

    /** The names of this set that {@code certificate}'s subject alternative names lack; empty when covered. */
    public List<String> missingFrom(X509Certificate certificate) {
        ServerNames have;
        try {
            have = fromCertificate(certificate);
        } catch (IllegalArgumentException e) {
            return all();
        }
        List<String> missing = new ArrayList<>();
        for (String d : dnsNames) {
            if (!have.dnsNames.contains(d)) {
                missing.add(d);
            }
        }
        for (String ip : ipAddresses) {
            if (!have.ipAddresses.contains(ip)) {
                missing.add(ip);
            }
        }
        return missing;
    }

    /** The DNS and IP subject alternative names of {@code certificate}. */
    public static ServerNames fromCertificate(X509Certificate certificate) {
        Collection<List<?>> sans;
        try {
            sans = certificate.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            throw new IllegalArgumentException("unreadable subjectAltName: " + e.getMessage(), e);
        }
        SortedSet<String> dns = new TreeSet<>();
        SortedSet<String> ips = new TreeSet<>();
        if (sans != null) {
            for (List<?> san : sans) {
                int type = (Integer) san.get(0);
                if (type == 2) {
                    dns.add(((String) san.get(1)).toLowerCase(Locale.ROOT));
                } else if (type == 7) {
                    ips.add(canonicalIp((String) san.get(1)));
                }
            }
        }
        if (dns.isEmpty() && ips.isEmpty()) {
            throw new IllegalArgumentException("certificate has no DNS or IP subjectAltName");
        }
        return new ServerNames(dns, ips);
    }

    private static String canonicalIp(String literal) {
        try {
            // A validated literal: getByName parses it without any lookup.
            return InetAddress.getByName(literal).getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("bad IP address '" + literal + "'", e);
        }
    }

    private static String checkDnsName(String raw, String n) {
        String body = n.startsWith("*.") ? n.substring(2) : n;
        if (body.endsWith(".")) {
            body = body.substring(0, body.length() - 1);
        }
        if (body.isEmpty() || body.length() > 253) {
            throw new IllegalArgumentException("bad host name '" + raw + "'");
        }
        for (String label : body.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")
                    || !label.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                throw new IllegalArgumentException("bad host name '" + raw + "' (letters, digits, '-' and '.' only;"
                        + " IP addresses as literals)");
            }
        }
        return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
    }
}
