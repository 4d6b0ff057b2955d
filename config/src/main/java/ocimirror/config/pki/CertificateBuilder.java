package ocimirror.config.pki;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Builds the two kinds of certificate the mirror makes, with BouncyCastle, signing with JDK keys
 * through the JDK's own providers. Profiles follow RFC 5280 and the CA/Browser Forum baseline
 * where it matters to clients: Go's crypto/x509 (containerd, skopeo) wants SANs and the
 * serverAuth EKU, and a path length of 0 keeps a leaked server key from minting CAs.
 */
final class CertificateBuilder {
    /** Both kinds start an hour in the past so a node whose clock is a little behind accepts them. */
    static final long BACKDATE_SECONDS = 3600;

    private final SecureRandom random;

    CertificateBuilder(SecureRandom random) {
        this.random = random;
    }

    /** A self-signed CA: basicConstraints critical CA:TRUE pathLen 0, keyUsage keyCertSign|cRLSign. */
    X509Certificate selfSignedCa(KeyPair keys, KeyAlgorithm alg, X500Name subject, Instant now, Instant notAfter) {
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                    Date.from(now.minusSeconds(BACKDATE_SECONDS)), Date.from(notAfter), subject, keys.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            b.addExtension(Extension.authorityKeyIdentifier, false,
                    ext.createAuthorityKeyIdentifier(keys.getPublic()));
            return sign(b, alg, keys.getPrivate());
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("cannot build CA certificate", e);
        }
    }

    /**
     * A server leaf signed by {@code ca}: SANs for every name, EKU serverAuth, keyUsage
     * digitalSignature (plus keyEncipherment for RSA keys, which TLS 1.2 RSA key exchange needs).
     */
    X509Certificate serverLeaf(X509Certificate ca, PrivateKey caKey, PublicKey leafKey, ServerNames names,
            Instant now, Instant notAfter) {
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X500Name issuer = new JcaX509CertificateHolder(ca).getSubject();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, serial(),
                    Date.from(now.minusSeconds(BACKDATE_SECONDS)), Date.from(notAfter),
                    subject(names.all().get(0)), leafKey);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            int usage = KeyUsage.digitalSignature;
            if (KeyAlgorithm.of(leafKey) == KeyAlgorithm.RSA_3072) {
                usage |= KeyUsage.keyEncipherment;
            }
            b.addExtension(Extension.keyUsage, true, new KeyUsage(usage));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            b.addExtension(Extension.subjectAlternativeName, false, subjectAltNames(names));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(leafKey));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
            return sign(b, KeyAlgorithm.of(ca.getPublicKey()), caKey);
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("cannot build server certificate", e);
        }
    }

    static X500Name subject(String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "ocimirror")
                .addRDN(BCStyle.CN, commonName)
                .build();
    }

    private static GeneralNames subjectAltNames(ServerNames names) {
        List<GeneralName> out = new ArrayList<>();
        for (String d : names.dnsNames()) {
            out.add(new GeneralName(GeneralName.dNSName, d));
        }
        for (String ip : names.ipAddresses()) {
            out.add(new GeneralName(GeneralName.iPAddress, ip));
        }
        return new GeneralNames(out.toArray(GeneralName[]::new));
    }

    /** 128 random bits, positive and non-zero, as RFC 5280 section 4.1.2.2 asks. */
    private BigInteger serial() {
        byte[] b = new byte[16];
        BigInteger s;
        do {
            random.nextBytes(b);
            s = new BigInteger(1, b);
        } while (s.signum() == 0);
        return s;
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyAlgorithm signer, PrivateKey key)
            throws GeneralSecurityException {
        try {
            ContentSigner s = new JcaContentSignerBuilder(signer.signatureAlgorithm()).build(key);
            return new JcaX509CertificateConverter().getCertificate(b.build(s));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }
}
