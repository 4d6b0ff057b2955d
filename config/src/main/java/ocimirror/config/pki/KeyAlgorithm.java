package ocimirror.config.pki;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Locale;

/**
 * Key types the generated PKI uses. ECDSA P-256 is the default: every TLS client the mirror
 * serves (Go's crypto/tls in containerd and skopeo, the JDK, OpenSSL) accepts it and handshakes
 * are cheaper than with RSA. RSA 3072 is there for old or FIPS-minded clients.
 */
public enum KeyAlgorithm {
    EC_P256("ecdsa-p256", "SHA256withECDSA"),
    RSA_3072("rsa-3072", "SHA256withRSA");

    private final String configName;
    private final String signatureAlgorithm;

    KeyAlgorithm(String configName, String signatureAlgorithm) {
        this.configName = configName;
        this.signatureAlgorithm = signatureAlgorithm;
    }

    /** The name used in configuration files and on the command line ({@code ecdsa-p256}, {@code rsa-3072}). */
    public String configName() {
        return configName;
    }

    /** Parses {@link #configName()} (also {@code ec}, {@code ecdsa}, {@code rsa}); case-insensitive. */
    public static KeyAlgorithm fromName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        switch (n) {
            case "ec", "ecdsa", "ecdsa-p256", "p256", "p-256":
                return EC_P256;
            case "rsa", "rsa-3072", "rsa3072":
                return RSA_3072;
            default:
                throw new IllegalArgumentException("unknown key algorithm '" + name + "' (expected ecdsa-p256 or rsa-3072)");
        }
    }

    /** The family of an existing key (any RSA size is {@link #RSA_3072}): how a loaded CA key signs. */
    static KeyAlgorithm of(PublicKey key) {
        if (key instanceof ECPublicKey) {
            return EC_P256;
        }
        if (key instanceof RSAPublicKey) {
            return RSA_3072;
        }
        throw new IllegalArgumentException("unsupported CA key type " + key.getAlgorithm() + " (expected EC or RSA)");
    }

    String signatureAlgorithm() {
        return signatureAlgorithm;
    }

    KeyPair generate(SecureRandom random) {
        try {
            if (this == EC_P256) {
                KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
                g.initialize(new ECGenParameterSpec("secp256r1"), random);
                return g.generateKeyPair();
            }
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(3072, random);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            // Both are mandatory in every Java SE 17 runtime.
            throw new IllegalStateException("cannot generate " + configName + " key", e);
        }
    }
}
