package ocimirror.config.pki;

import java.util.Locale;
import org.bouncycastle.util.IPAddress;

/**
 * A registry address as clients write it in image names: {@code HOST}, {@code HOST:PORT} or
 * {@code [V6]:PORT}. Validated strictly, because it becomes a directory name in exported trees.
 *
 * @param host lower-case DNS name or IP literal (IPv6 without brackets)
 * @param port 1..65535, or -1 when not given
 */
record HostPort(String host, int port) {

    static HostPort parse(String s, String what) {
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException(what + " is required (HOST or HOST:PORT)");
        }
        String in = s.trim();
        if (in.contains("://") || in.contains("/")) {
            throw new IllegalArgumentException(what + " '" + s + "' must be HOST or HOST:PORT, without scheme or path");
        }
        String host;
        String port = null;
        if (in.startsWith("[")) {
            int close = in.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException(what + " '" + s + "': missing ']'");
            }
            host = in.substring(1, close);
            String rest = in.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException(what + " '" + s + "': expected :PORT after ']'");
                }
                port = rest.substring(1);
            }
            if (!IPAddress.isValidIPv6(host)) {
                throw new IllegalArgumentException(what + " '" + s + "': not an IPv6 address in brackets");
            }
        } else {
            int colon = in.indexOf(':');
            if (colon >= 0 && in.indexOf(':', colon + 1) >= 0) {
                throw new IllegalArgumentException(what + " '" + s + "': write IPv6 addresses in brackets, [::1]:5000");
            }
            host = colon < 0 ? in : in.substring(0, colon);
            port = colon < 0 ? null : in.substring(colon + 1);
            host = host.toLowerCase(Locale.ROOT);
            if (!IPAddress.isValidIPv4(host) && !isDnsName(host)) {
                throw new IllegalArgumentException(what + " '" + s + "': not a valid host name or IP address");
            }
        }
        return new HostPort(host, port == null ? -1 : parsePort(port, s, what));
    }

    /** Back to the client's notation, brackets around IPv6. */
    String text() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return port < 0 ? h : h + ":" + port;
    }

    private static int parsePort(String p, String s, String what) {
        try {
            int n = Integer.parseInt(p);
            if (n >= 1 && n <= 65535 && p.equals(Integer.toString(n))) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // Reported below.
        }
        throw new IllegalArgumentException(what + " '" + s + "': bad port '" + p + "'");
    }

    private static boolean isDnsName(String h) {
        if (h.isEmpty() || h.length() > 253) {
            return false;
        }
        for (String label : h.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")
                    || !label.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                return false;
            }
        }
        return true;
    }
}
