package ocimirror.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.ServerNames;

/**
 * The {@code tls:} section: how the mirror serves HTTPS. Immutable, validated on construction;
 * null components take the defaults below, so a loader passes only what the file says. Every
 * error message starts with the field's path ({@code tls.certFile: ...}), ready to be prefixed
 * with the file name.
 *
 * <pre>
 * tls:
 *   mode: generate               # generate (default) | files | off
 *   keyAlgorithm: ecdsa-p256     # or rsa-3072: the key type of a new generated CA
 *   hostNames: [mirror.example.com, 10.0.0.5]   # names ocimirror issues its certificate for
 *   # files mode, either a given server certificate:
 *   certFile: /etc/ocimirror/tls.crt   # the leaf, optionally followed by its chain
 *   keyFile: /etc/ocimirror/tls.key
 *   chainFile: /etc/ocimirror/chain.pem  # optional, appended after certFile's certificates
 *   # or a given CA from which ocimirror issues (and renews) its own server certificate:
 *   caCertFile: /etc/ocimirror/ca.crt
 *   caKeyFile: /etc/ocimirror/ca.key
 *   clientCaFile: /etc/ocimirror/clients-ca.pem   # mTLS: CAs client certificates must chain to
 *   clientAuth: require          # none | optional | require (default: require with clientCaFile)
 * </pre>
 *
 * @param mode          where the server certificate comes from
 * @param keyAlgorithm  key type of a CA created in {@code generate} mode (an existing CA keeps
 *                      its own; server keys follow the CA's type)
 * @param hostNames     DNS names and IP addresses a certificate ocimirror issues must cover, on
 *                      top of the machine's host name, {@code localhost}, {@code 127.0.0.1} and
 *                      {@code ::1}
 * @param certFile      {@code files} mode: the server certificate (PEM), or null
 * @param keyFile       {@code files} mode: its private key (PEM), or null
 * @param chainFile     {@code files} mode: intermediates served after the certificate, or null
 * @param caCertFile    {@code files} mode: a CA certificate ocimirror issues its own leaf from, or null
 * @param caKeyFile     {@code files} mode: that CA's private key, or null
 * @param clientCaFile  PEM bundle of the CAs client certificates are checked against; null: no mTLS
 * @param clientAuth    whether clients must present a certificate
 */
public record TlsConfig(
        Mode mode,
        KeyAlgorithm keyAlgorithm,
        List<String> hostNames,
        Path certFile,
        Path keyFile,
        Path chainFile,
        Path caCertFile,
        Path caKeyFile,
        Path clientCaFile,
        ClientAuth clientAuth) {

    /** Where the server certificate comes from. */
    public enum Mode {
        /** ocimirror's own CA under {@code <data>/pki}, created on first start. */
        GENERATE,
        /** A given certificate and key, or a given CA that ocimirror issues from. */
        FILES,
        /** Plain HTTP ({@code serve --plain-http}). */
        OFF;

        /** Parses {@code generate}, {@code files} or {@code off}, case-insensitive. */
        public static Mode fromName(String name) {
            return parse(Mode.class, name, "tls.mode", "generate, files or off");
        }
    }

    /** Client certificates (mTLS). */
    public enum ClientAuth {
        NONE,
        /** Checked when sent, not required. */
        OPTIONAL,
        /** A handshake without a client certificate chaining to {@code clientCaFile} fails. */
        REQUIRE;

        /** Parses {@code none}, {@code optional} or {@code require}, case-insensitive. */
        public static ClientAuth fromName(String name) {
            return parse(ClientAuth.class, name, "tls.clientAuth", "none, optional or require");
        }
    }

    public TlsConfig {
        mode = mode == null ? Mode.GENERATE : mode;
        keyAlgorithm = keyAlgorithm == null ? KeyAlgorithm.EC_P256 : keyAlgorithm;
        hostNames = hostNames == null ? List.of() : List.copyOf(hostNames);
        if (!hostNames.isEmpty()) {
            try {
                ServerNames.of(hostNames);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tls.hostNames: " + e.getMessage(), e);
            }
        }
        if (clientAuth == null) {
            clientAuth = clientCaFile == null ? ClientAuth.NONE : ClientAuth.REQUIRE;
        }
        validate(mode, hostNames, certFile, keyFile, chainFile, caCertFile, caKeyFile, clientCaFile, clientAuth);
    }

    private static void validate(Mode mode, List<String> hostNames, Path certFile, Path keyFile, Path chainFile,
            Path caCertFile, Path caKeyFile, Path clientCaFile, ClientAuth clientAuth) {
        boolean leafGiven = certFile != null || keyFile != null || chainFile != null;
        boolean caGiven = caCertFile != null || caKeyFile != null;
        switch (mode) {
            case GENERATE, OFF -> {
                List<String> set = new ArrayList<>();
                addIf(set, certFile, "certFile");
                addIf(set, keyFile, "keyFile");
                addIf(set, chainFile, "chainFile");
                addIf(set, caCertFile, "caCertFile");
                addIf(set, caKeyFile, "caKeyFile");
                if (!set.isEmpty()) {
                    throw new IllegalArgumentException("tls." + set.get(0) + ": only used with mode: files (mode is "
                            + mode.name().toLowerCase(Locale.ROOT) + ")");
                }
                if (mode == Mode.OFF) {
                    if (clientCaFile != null || clientAuth != ClientAuth.NONE) {
                        throw new IllegalArgumentException("tls.clientCaFile: client certificates need TLS (mode is off)");
                    }
                    if (!hostNames.isEmpty()) {
                        throw new IllegalArgumentException("tls.hostNames: no certificate is issued when mode is off");
                    }
                }
            }
            case FILES -> {
                if (leafGiven && caGiven) {
                    throw new IllegalArgumentException("tls: give either certFile + keyFile (a server certificate) or"
                            + " caCertFile + caKeyFile (a CA ocimirror issues from), not both");
                }
                if (!leafGiven && !caGiven) {
                    throw new IllegalArgumentException("tls: mode files needs certFile + keyFile, or caCertFile + caKeyFile");
                }
                if (leafGiven) {
                    if (certFile == null) {
                        throw new IllegalArgumentException("tls.certFile: required with " + (keyFile != null ? "keyFile" : "chainFile"));
                    }
                    if (keyFile == null) {
                        throw new IllegalArgumentException("tls.keyFile: required with certFile");
                    }
                    if (!hostNames.isEmpty()) {
                        throw new IllegalArgumentException("tls.hostNames: only used when ocimirror issues the certificate"
                                + " (mode generate, or files with caCertFile); the names of certFile are its own");
                    }
                } else if (caCertFile == null) {
                    throw new IllegalArgumentException("tls.caCertFile: required with caKeyFile");
                } else if (caKeyFile == null) {
                    throw new IllegalArgumentException("tls.caKeyFile: required with caCertFile");
                }
            }
            default -> throw new IllegalStateException(mode.toString());
        }
        if (clientAuth != ClientAuth.NONE && clientCaFile == null) {
            throw new IllegalArgumentException("tls.clientAuth: " + clientAuth.name().toLowerCase(Locale.ROOT)
                    + " needs clientCaFile (the CAs client certificates are checked against)");
        }
        if (clientAuth == ClientAuth.NONE && clientCaFile != null) {
            throw new IllegalArgumentException("tls.clientCaFile: set, but clientAuth is none; remove one of them");
        }
    }

    /** What {@code serve} runs with by default: generated CA, ECDSA P-256, default names, no mTLS. */
    public static TlsConfig defaults() {
        return new TlsConfig(null, null, null, null, null, null, null, null, null, null);
    }

    /** Plain HTTP: what {@code serve --plain-http} maps to. */
    public static TlsConfig off() {
        return new TlsConfig(Mode.OFF, null, null, null, null, null, null, null, null, null);
    }

    /** Whether the server speaks TLS at all. */
    public boolean enabled() {
        return mode != Mode.OFF;
    }

    /** Whether ocimirror issues the server certificate itself (generate mode, or files mode with a CA). */
    public boolean issuesOwnCertificate() {
        return mode == Mode.GENERATE || mode == Mode.FILES && caCertFile != null;
    }

    private static void addIf(List<String> set, Path p, String name) {
        if (p != null) {
            set.add(name);
        }
    }

    static <E extends Enum<E>> E parse(Class<E> type, String name, String field, String expected) {
        if (name != null) {
            for (E e : type.getEnumConstants()) {
                if (e.name().equalsIgnoreCase(name.trim())) {
                    return e;
                }
            }
        }
        throw new IllegalArgumentException(field + ": unknown value '" + name + "' (expected " + expected + ")");
    }
}
