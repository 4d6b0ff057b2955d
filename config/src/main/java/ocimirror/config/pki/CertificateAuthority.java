package ocimirror.config.pki;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The mirror's own certificate authority: a CA certificate and key that issue server
 * certificates.
 *
 * <p>{@code generate} TLS mode: {@link #loadOrCreate} the CA under {@code <data>/pki}, then
 * {@link #loadOrIssueServer} the server certificate next to it. {@code files} mode with a given
 * CA: {@link #load} it, then {@link #loadOrIssueServer} into a directory of the caller's choice.
 * Files in that directory:
 * <pre>
 *   ca.crt      the CA certificate (PEM, 0644): what clients must trust; see TrustExport
 *   ca.key      its key (PKCS#8 PEM, 0600)
 *   server.crt  the server certificate followed by ca.crt (PEM, 0644)
 *   server.key  its key (PKCS#8 PEM, 0600)
 * </pre>
 * The directory is made 0700. Every file is replaced atomically (temp file, fsync, rename), so a
 * reader sees old or new content, never a torn file; server.key is written before server.crt,
 * so a reloader that sees a key and certificate that do not match should wait for the next change.
 *
 * <p>Thread-safe once built. Two processes must not load-or-create in one directory at the same
 * time (the server holds the data directory's lock first).
 */
public final class CertificateAuthority {
    public static final String CA_CERT_FILE = "ca.crt";
    public static final String CA_KEY_FILE = "ca.key";
    public static final String SERVER_CERT_FILE = "server.crt";
    public static final String SERVER_KEY_FILE = "server.key";

    /** A CA lives long: replacing it means touching every node's trust. */
    public static final Duration CA_VALIDITY = Duration.ofDays(3650);
    /** The longest validity clients (Apple's, browsers') accept for a server certificate. */
    public static final Duration SERVER_VALIDITY = Duration.ofDays(397);
    /** A server certificate expiring sooner than this is re-issued at start-up. */
    public static final Duration RENEW_BEFORE = Duration.ofDays(30);

    private final X509Certificate certificate;
    private final PrivateKey key;
    private final KeyAlgorithm algorithm;
    private final Clock clock;
    private final boolean created;
    private final CertificateBuilder builder;

    private CertificateAuthority(X509Certificate certificate, PrivateKey key, Clock clock, boolean created,
            SecureRandom random) {
        this.certificate = certificate;
        this.key = key;
        this.algorithm = KeyAlgorithm.of(certificate.getPublicKey());
        this.clock = clock;
        this.created = created;
        this.builder = new CertificateBuilder(random);
    }

    /**
     * A new CA, in memory only, with subject {@code O=ocimirror, CN=ocimirror CA <host> <random>}
     * (the random part tells apart the CAs of two installs on one host in a trust store).
     */
    public static CertificateAuthority create(KeyAlgorithm algorithm, Clock clock) {
        requireNonNull(algorithm, "algorithm");
        requireNonNull(clock, "clock");
        SecureRandom random = new SecureRandom();
        KeyPair keys = algorithm.generate(random);
        String host = ServerNames.machineHostName();
        byte[] tag = new byte[4];
        random.nextBytes(tag);
        String cn = "ocimirror CA " + (host == null || host.isBlank() ? "" : host + " ") + HexFormat.of().formatHex(tag);
        Instant now = clock.instant();
        X509Certificate cert = new CertificateBuilder(random)
                .selfSignedCa(keys, algorithm, CertificateBuilder.subject(cn), now, now.plus(CA_VALIDITY));
        return new CertificateAuthority(cert, keys.getPrivate(), clock, true, random);
    }

    /**
     * An existing CA.
     *
     * @throws IllegalArgumentException when the certificate is not a CA that may sign certificates,
     *                                  or the key is not its key
     */
    public static CertificateAuthority of(X509Certificate certificate, PrivateKey key, Clock clock) {
        requireNonNull(certificate, "certificate");
        requireNonNull(key, "key");
        requireNonNull(clock, "clock");
        KeyAlgorithm.of(certificate.getPublicKey()); // an unsupported CA key type gets its own message
        if (certificate.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("not a CA certificate (no basicConstraints CA:TRUE): "
                    + certificate.getSubjectX500Principal());
        }
        boolean[] usage = certificate.getKeyUsage();
        if (usage != null && (usage.length <= 5 || !usage[5])) {
            throw new IllegalArgumentException("CA certificate's keyUsage lacks keyCertSign: "
                    + certificate.getSubjectX500Principal());
        }
        if (!Keys.matches(key, certificate.getPublicKey())) {
            throw new IllegalArgumentException("the private key does not belong to the CA certificate "
                    + certificate.getSubjectX500Principal());
        }
        return new CertificateAuthority(certificate, key, clock, false, new SecureRandom());
    }

    /** A CA certificate and key from PEM files ({@code files} TLS mode with a given CA). */
    public static CertificateAuthority load(Path certFile, Path keyFile, Clock clock) throws IOException {
        X509Certificate cert = Pem.readCertificate(certFile);
        PrivateKey key = Pem.readPrivateKey(keyFile);
        try {
            return of(cert, key, clock);
        } catch (IllegalArgumentException e) {
            throw new IOException(certFile + " / " + keyFile + ": " + e.getMessage(), e);
        }
    }

    /**
     * Loads {@code dir/ca.crt} and {@code dir/ca.key}, or creates and saves a new CA when neither
     * exists ({@link #created()} then answers true). {@code algorithm} only matters for a new CA.
     *
     * @throws IOException when only one of the two files exists (a CA that clients may already
     *                     trust is never replaced silently), or a file is unreadable
     */
    public static CertificateAuthority loadOrCreate(Path dir, KeyAlgorithm algorithm, Clock clock) throws IOException {
        AtomicFiles.createPrivateDirectory(dir);
        Path certFile = dir.resolve(CA_CERT_FILE);
        Path keyFile = dir.resolve(CA_KEY_FILE);
        boolean haveCert = Files.exists(certFile);
        boolean haveKey = Files.exists(keyFile);
        if (haveCert && haveKey) {
            return load(certFile, keyFile, clock);
        }
        if (haveCert || haveKey) {
            Path missing = haveCert ? keyFile : certFile;
            throw new IOException(missing + " is missing but " + (haveCert ? certFile : keyFile)
                    + " exists; restore it, or delete both to generate a new CA (every client must then trust the new one)");
        }
        CertificateAuthority ca = create(algorithm, clock);
        Pem.writePrivateKey(keyFile, ca.key);
        Pem.writeCertificates(certFile, List.of(ca.certificate));
        return ca;
    }

    /** The CA certificate: what clients trust. */
    public X509Certificate certificate() {
        return certificate;
    }

    /**
     * The CA key's family (an RSA CA of any size answers {@link KeyAlgorithm#RSA_3072}); server
     * keys are made of this type.
     */
    public KeyAlgorithm algorithm() {
        return algorithm;
    }

    /** Whether {@link #loadOrCreate} generated this CA just now (worth a log line). */
    public boolean created() {
        return created;
    }

    /** SHA-256 fingerprint of the CA certificate, as {@code AB:CD:...} (what openssl -fingerprint prints). */
    public String fingerprint() {
        return fingerprint(certificate);
    }

    /** SHA-256 fingerprint of any certificate, as {@code AB:CD:...}. */
    public static String fingerprint(X509Certificate cert) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A new server key and certificate for {@code names}, valid {@link #SERVER_VALIDITY} (or until
     * the CA expires, if sooner). The chain is the leaf, then this CA.
     *
     * @throws IllegalStateException when the CA has expired
     */
    public ServerCredentials issueServer(ServerNames names) {
        requireNonNull(names, "names");
        Instant now = clock.instant();
        Instant caEnd = certificate.getNotAfter().toInstant();
        if (!caEnd.isAfter(now)) {
            throw new IllegalStateException("the CA " + certificate.getSubjectX500Principal() + " expired on " + caEnd);
        }
        Instant end = now.plus(SERVER_VALIDITY);
        if (end.isAfter(caEnd)) {
            end = caEnd;
        }
        KeyPair keys = algorithm.generate(new SecureRandom());
        X509Certificate leaf = builder.serverLeaf(certificate, key, keys.getPublic(), names, now, end);
        return new ServerCredentials(keys.getPrivate(), List.of(leaf, certificate));
    }

    /**
     * Reuses {@code dir/server.crt} and {@code dir/server.key} when they were issued by this CA,
     * cover every one of {@code names} and stay valid beyond {@link #RENEW_BEFORE}; otherwise
     * issues new ones and saves them.
     */
    public IssuedServer loadOrIssueServer(Path dir, ServerNames names) throws IOException {
        requireNonNull(names, "names");
        AtomicFiles.createPrivateDirectory(dir);
        Path certFile = dir.resolve(SERVER_CERT_FILE);
        Path keyFile = dir.resolve(SERVER_KEY_FILE);
        Optional<String> reason = Optional.of("no server certificate yet");
        if (Files.exists(certFile) || Files.exists(keyFile)) {
            try {
                ServerCredentials existing = ServerCredentials.load(certFile, keyFile, null);
                reason = reissueReason(existing, names);
                if (reason.isEmpty()) {
                    return new IssuedServer(existing, Optional.empty());
                }
            } catch (IOException | IllegalArgumentException e) {
                reason = Optional.of("the existing one is unusable: " + e.getMessage());
            }
        }
        ServerCredentials fresh = issueServer(names);
        Pem.writePrivateKey(keyFile, fresh.privateKey());
        Pem.writeCertificates(certFile, fresh.chain());
        return new IssuedServer(fresh, reason);
    }

    private Optional<String> reissueReason(ServerCredentials existing, ServerNames names) {
        X509Certificate leaf = existing.leaf();
        if (!issuedByMe(leaf)) {
            return Optional.of("it was issued by another CA (" + leaf.getIssuerX500Principal() + ")");
        }
        List<String> missing = names.missingFrom(leaf);
        if (!missing.isEmpty()) {
            return Optional.of("it does not cover " + String.join(", ", missing));
        }
        Instant now = clock.instant();
        Instant end = leaf.getNotAfter().toInstant();
        if (end.isBefore(now.plus(RENEW_BEFORE))) {
            return Optional.of((end.isAfter(now) ? "it expires on " : "it expired on ") + end);
        }
        if (leaf.getNotBefore().toInstant().isAfter(now)) {
            return Optional.of("it is not valid before " + leaf.getNotBefore().toInstant());
        }
        return Optional.empty();
    }

    private boolean issuedByMe(X509Certificate leaf) {
        if (!leaf.getIssuerX500Principal().equals(certificate.getSubjectX500Principal())) {
            return false;
        }
        try {
            leaf.verify(certificate.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /**
     * The outcome of {@link #loadOrIssueServer}.
     *
     * @param credentials   the key and chain to serve
     * @param issuedBecause why a new certificate was issued; empty when the saved one was reused
     */
    public record IssuedServer(ServerCredentials credentials, Optional<String> issuedBecause) {
        public IssuedServer {
            requireNonNull(credentials, "credentials");
            requireNonNull(issuedBecause, "issuedBecause");
        }

        /** Whether a new certificate was issued (and saved). */
        public boolean issued() {
            return issuedBecause.isPresent();
        }
    }
}
