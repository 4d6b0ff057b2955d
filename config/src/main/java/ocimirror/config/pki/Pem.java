package ocimirror.config.pki;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * PEM reading and writing for certificates and private keys.
 *
 * <p>Reads the forms openssl and the usual tools write: {@code CERTIFICATE} blocks (several in
 * one file: a chain or a bundle), {@code PRIVATE KEY} (PKCS#8), {@code EC PRIVATE KEY} (SEC1,
 * with or without the {@code EC PARAMETERS} block {@code openssl ecparam -genkey} puts before it)
 * and {@code RSA PRIVATE KEY} (PKCS#1). Encrypted keys are refused with a hint. Writes
 * certificates as {@code CERTIFICATE} blocks and keys as unencrypted PKCS#8.
 *
 * <p>Keys and certificates come out as the JDK's own types (no security provider is registered),
 * so they go straight into JDK or Netty TLS. Every error message names the file or source.
 * Stateless and thread-safe.
 */
public final class Pem {
    private static final Base64.Encoder MIME = Base64.getMimeEncoder(64, new byte[] {'\n'});

    private Pem() {
    }

    /** All certificates in a PEM file, in file order; at least one. */
    public static List<X509Certificate> readCertificates(Path file) throws IOException {
        return parseCertificates(read(file), file.toString());
    }

    /** The first certificate in a PEM file. */
    public static X509Certificate readCertificate(Path file) throws IOException {
        return readCertificates(file).get(0);
    }

    /** The private key in a PEM file (PKCS#8, SEC1 EC or PKCS#1 RSA). */
    public static PrivateKey readPrivateKey(Path file) throws IOException {
        return parsePrivateKey(read(file), file.toString());
    }

    /**
     * Parses every {@code CERTIFICATE} block in {@code pem}; other blocks are skipped.
     *
     * @param source names the input in error messages (a file name, "--ca-cert", ...)
     * @throws IOException when there is no certificate or a block is malformed
     */
    public static List<X509Certificate> parseCertificates(String pem, String source) throws IOException {
        List<X509Certificate> out = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof X509CertificateHolder holder) {
                    out.add(converter.getCertificate(holder));
                }
            }
        } catch (CertificateException | IOException | RuntimeException e) {
            throw new IOException(source + ": malformed PEM certificate: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IOException(source + ": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
        }
        return List.copyOf(out);
    }

    /**
     * Parses the first private key in {@code pem}; other blocks (certificates, EC parameters)
     * are skipped.
     *
     * @param source names the input in error messages
     * @throws IOException when there is no key, it is encrypted, or it is malformed
     */
    public static PrivateKey parsePrivateKey(String pem, String source) throws IOException {
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof PrivateKeyInfo info) {
                    return converter.getPrivateKey(info);
                }
                if (o instanceof PEMKeyPair pair) {
                    return converter.getKeyPair(pair).getPrivate();
                }
                if (o instanceof PKCS8EncryptedPrivateKeyInfo || o instanceof PEMEncryptedKeyPair) {
                    throw new IOException(source + ": the private key is encrypted; write an unencrypted copy"
                            + " (openssl pkey -in KEY -out KEY.plain) and keep it mode 0600");
                }
            }
        } catch (IOException | RuntimeException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(source + ": ")) {
                throw e;
            }
            throw new IOException(source + ": malformed PEM private key: " + e.getMessage(), e);
        }
        throw new IOException(source + ": no PEM private key found (expected -----BEGIN PRIVATE KEY-----,"
                + " EC PRIVATE KEY or RSA PRIVATE KEY)");
    }

    /** {@code CERTIFICATE} blocks, one per certificate, in order. */
    public static String encodeCertificates(List<X509Certificate> certificates) {
        StringBuilder sb = new StringBuilder();
        for (X509Certificate c : certificates) {
            try {
                block(sb, "CERTIFICATE", c.getEncoded());
            } catch (CertificateEncodingException e) {
                throw new IllegalArgumentException("cannot encode certificate " + c.getSubjectX500Principal(), e);
            }
        }
        return sb.toString();
    }

    /** One {@code CERTIFICATE} block. */
    public static String encodeCertificate(X509Certificate certificate) {
        return encodeCertificates(List.of(certificate));
    }

    /** An unencrypted PKCS#8 {@code PRIVATE KEY} block. */
    public static String encodePrivateKey(PrivateKey key) {
        byte[] der = key.getEncoded();
        if (der == null || !"PKCS#8".equals(key.getFormat())) {
            throw new IllegalArgumentException("key cannot be exported as PKCS#8 (format " + key.getFormat() + ")");
        }
        return block(new StringBuilder(), "PRIVATE KEY", der).toString();
    }

    /** Atomically replaces {@code file} with the certificates, mode 0644 (they are public). */
    public static void writeCertificates(Path file, List<X509Certificate> certificates) throws IOException {
        AtomicFiles.write(file, encodeCertificates(certificates).getBytes(StandardCharsets.US_ASCII),
                AtomicFiles.WORLD_READABLE);
    }

    /** Atomically replaces {@code file} with the key as PKCS#8, created mode 0600 on POSIX systems. */
    public static void writePrivateKey(Path file, PrivateKey key) throws IOException {
        AtomicFiles.write(file, encodePrivateKey(key).getBytes(StandardCharsets.US_ASCII), AtomicFiles.OWNER_ONLY);
    }

    private static StringBuilder block(StringBuilder sb, String type, byte[] der) {
        return sb.append("-----BEGIN ").append(type).append("-----\n")
                .append(MIME.encodeToString(der)).append('\n')
                .append("-----END ").append(type).append("-----\n");
    }

    private static String read(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new IOException(file + ": cannot read: " + e, e);
        }
        if (bytes.length > 0 && bytes[0] == 0x30) {
            // An ASN.1 SEQUENCE tag: binary DER, not PEM.
            throw new IOException(file + ": looks like binary DER, not PEM; convert it with"
                    + " openssl x509 -inform der (certificates) or openssl pkey -inform der (keys)");
        }
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }
}
