package ocimirror.server.tls;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import ocimirror.config.TlsConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.ServerCredentials;
import ocimirror.config.pki.ServerNames;
import ocimirror.server.reload.FileReloader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of TLS: where the certificate comes from, the SSL context built from it, and
 * rotation without a restart.
 *
 * <ul>
 *   <li>{@code generate}: the CA under {@code <data>/pki} (created on first start), and a server
 *       certificate it issued for the configured names plus the defaults of
 *       {@link ServerNames#withDefaults}, kept in the same directory.
 *   <li>{@code files} with {@code certFile}/{@code keyFile}: served as given.
 *   <li>{@code files} with {@code caCertFile}/{@code caKeyFile}: ocimirror issues its own server
 *       certificate from that CA and keeps it under {@code <data>/pki/issued}.
 * </ul>
 *
 * <p>Rotation: every connection's handler comes from the context current when it is accepted
 * ({@link #newHandler}), so after a reload new handshakes get the new certificate while open
 * connections keep the engine they have. {@link #watch} re-reads the files every period (the
 * served certificate and key, or the given CA, and the client CA bundle) and rebuilds the context
 * when their content changed and loads; a pair that does not load (a key already replaced, its
 * certificate not yet) leaves the old context in place until the next check. A certificate that
 * ocimirror issued is renewed {@link CertificateAuthority#RENEW_BEFORE} before it expires.
 *
 * <p>Thread-safe: {@link #newHandler} may be called from any event loop while a check runs.
 */
public final class ServerTls implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServerTls.class);
    /** How often {@link #watch} looks at the files when the caller has no opinion. */
    public static final Duration DEFAULT_CHECK_INTERVAL = Duration.ofSeconds(10);
    /** Where, under the data directory, the PKI lives. */
    public static final String PKI_DIR = "pki";
    /** Where, under the PKI directory, a certificate issued from a given CA is kept. */
    public static final String ISSUED_DIR = "issued";
    /** A renewal must extend the certificate's life by at least this much to be worth a new certificate. */
    private static final Duration RENEWAL_GAIN = Duration.ofHours(1);

    private final TlsConfig config;
    private final Clock clock;
    private final SslProvider provider;
    private final ServerNames names;
    private final Path issuedDir;
    private final FileReloader<TlsMaterial> reloader;
    private volatile CertificateAuthority ca;
    private volatile TlsMaterial material;
    private volatile SslContext context;
    private volatile ScheduledFuture<?> watch;
    private boolean caExpiryLogged;

    private ServerTls(TlsConfig config, Path dataDir, Clock clock, SslProvider provider) {
        this.config = config;
        this.clock = clock;
        this.provider = provider;
        Path pki = dataDir.resolve(PKI_DIR);
        this.names = config.issuesOwnCertificate() ? ServerNames.withDefaults(config.hostNames()) : null;
        this.issuedDir = config.mode() == TlsConfig.Mode.GENERATE ? pki : pki.resolve(ISSUED_DIR);
        List<Path> watched = new ArrayList<>();
        if (config.mode() == TlsConfig.Mode.GENERATE) {
            watched.add(pki.resolve(CertificateAuthority.SERVER_CERT_FILE));
            watched.add(pki.resolve(CertificateAuthority.SERVER_KEY_FILE));
        } else if (config.caCertFile() != null) {
            watched.add(config.caCertFile());
            watched.add(config.caKeyFile());
        } else {
            watched.add(config.certFile());
            watched.add(config.keyFile());
            if (config.chainFile() != null) {
                watched.add(config.chainFile());
            }
        }
        if (config.clientCaFile() != null) {
            watched.add(config.clientCaFile());
        }
        this.reloader = new FileReloader<>("TLS certificate", watched, this::load, this::install);
    }

    /**
     * Loads (or, in {@code generate} mode, creates) the certificate and builds the first context.
     * Uses OpenSSL when netty-tcnative loaded, else the JDK's TLS.
     *
     * @throws IOException              naming the file that is missing, unreadable or does not match
     * @throws IllegalArgumentException when {@code config} is {@code mode: off}
     */
    public static ServerTls start(TlsConfig config, Path dataDir, Clock clock) throws IOException {
        return start(config, dataDir, clock, SslContexts.preferredProvider());
    }

    /** As {@link #start(TlsConfig, Path, Clock)} with a given provider (tests run both). */
    static ServerTls start(TlsConfig config, Path dataDir, Clock clock, SslProvider provider) throws IOException {
        requireNonNull(config, "config");
        requireNonNull(dataDir, "dataDir");
        requireNonNull(clock, "clock");
        requireNonNull(provider, "provider");
        if (!config.enabled()) {
            throw new IllegalArgumentException("TLS is off in this configuration");
        }
        ServerTls tls = new ServerTls(config, dataDir, clock, provider);
        if (config.mode() == TlsConfig.Mode.GENERATE) {
            Path pki = dataDir.resolve(PKI_DIR);
            tls.ca = CertificateAuthority.loadOrCreate(pki, config.keyAlgorithm(), clock);
            CertificateAuthority.IssuedServer issued = tls.ca.loadOrIssueServer(pki, tls.names);
            issued.issuedBecause().ifPresent(why -> log.info("TLS: issued a new server certificate because {}", why));
        }
        FileReloader.Snapshot first = tls.reloader.read();
        try {
            tls.install(tls.load(first));
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e.getMessage(), e);
        }
        tls.reloader.accept(first);
        tls.logStart(dataDir);
        return tls;
    }

    /** Checks the files every {@code period} on {@code scheduler} until {@link #close}. */
    public void watch(ScheduledExecutorService scheduler, Duration period) {
        requireNonNull(scheduler, "scheduler");
        requireNonNull(period, "period");
        ScheduledFuture<?> old = watch;
        if (old != null) {
            old.cancel(false);
        }
        watch = FileReloader.every(scheduler, period, "TLS certificate", this::reload);
    }

    /**
     * One check now: renews a certificate ocimirror issued when it is due, and reloads the files
     * if they changed. What {@link #watch} runs.
     *
     * @return true when new handshakes now get a different certificate
     */
    public synchronized boolean reload() {
        boolean renewed = false;
        try {
            renewed = renewIfDue();
        } catch (IOException | RuntimeException e) {
            log.warn("TLS: renewing the server certificate failed (retrying at the next check): {}", e.toString());
        }
        return reloader.check() || renewed;
    }

    /** A TLS handler for a new connection, from the current context. */
    public SslHandler newHandler(ByteBufAllocator alloc) {
        return context.newHandler(alloc);
    }

    /** The context new connections get now. */
    public SslContext context() {
        return context;
    }

    /** The server certificate and key new connections get now. */
    public ServerCredentials credentials() {
        return material.credentials();
    }

    /** OpenSSL or JDK. */
    public SslProvider provider() {
        return provider;
    }

    /**
     * The CA certificate clients must trust, when ocimirror issues the certificate: {@code
     * <data>/pki/ca.crt} in {@code generate} mode, the given {@code caCertFile} in {@code files}
     * mode. Empty for a given server certificate (its issuer is the operator's business).
     */
    public Optional<X509Certificate> caCertificate() {
        CertificateAuthority c = ca;
        return c == null ? Optional.empty() : Optional.of(c.certificate());
    }

    /** Stops watching the files. The contexts stay usable by open connections. */
    @Override
    public void close() {
        ScheduledFuture<?> w = watch;
        if (w != null) {
            w.cancel(false);
        }
    }

    private boolean renewIfDue() throws IOException {
        CertificateAuthority c = ca;
        Instant leafEnd = material.credentials().notAfter();
        if (c == null || leafEnd.isAfter(clock.instant().plus(CertificateAuthority.RENEW_BEFORE))) {
            return false;
        }
        Instant caEnd = c.certificate().getNotAfter().toInstant();
        if (!caEnd.isAfter(leafEnd.plus(RENEWAL_GAIN))) {
            // A leaf never outlives its CA: re-issuing now would only churn certificates every check.
            if (!caExpiryLogged) {
                log.warn("TLS: the server certificate expires on {} and cannot be renewed beyond its CA {}, which expires"
                        + " on {}: replace the CA", leafEnd, c.certificate().getSubjectX500Principal(), caEnd);
                caExpiryLogged = true;
            }
            return false;
        }
        CertificateAuthority.IssuedServer issued = c.loadOrIssueServer(issuedDir, names);
        if (!issued.issued()) {
            return false;
        }
        log.info("TLS: renewed the server certificate because {}", issued.issuedBecause().orElseThrow());
        if (config.mode() == TlsConfig.Mode.GENERATE) {
            return reloader.check(); // the served files are the ones just written
        }
        install(new TlsMaterial(issued.credentials(), material.clientCas()));
        return true;
    }

    /** Builds the material from one read of the watched files. */
    private TlsMaterial load(FileReloader.Snapshot s) throws Exception {
        List<X509Certificate> clientCas = config.clientCaFile() == null ? List.of()
                : Pem.parseCertificates(s.text(config.clientCaFile()), config.clientCaFile().toString());
        ServerCredentials credentials;
        if (config.mode() == TlsConfig.Mode.GENERATE) {
            Path dir = issuedDir;
            credentials = credentials(s, dir.resolve(CertificateAuthority.SERVER_CERT_FILE), null,
                    dir.resolve(CertificateAuthority.SERVER_KEY_FILE));
        } else if (config.caCertFile() != null) {
            X509Certificate caCert = Pem.parseCertificates(s.text(config.caCertFile()), config.caCertFile().toString()).get(0);
            PrivateKey caKey = Pem.parsePrivateKey(s.text(config.caKeyFile()), config.caKeyFile().toString());
            CertificateAuthority given;
            try {
                given = CertificateAuthority.of(caCert, caKey, clock);
            } catch (IllegalArgumentException e) {
                throw new IOException(config.caCertFile() + " / " + config.caKeyFile() + ": " + e.getMessage(), e);
            }
            CertificateAuthority.IssuedServer issued = given.loadOrIssueServer(issuedDir, names);
            issued.issuedBecause().ifPresent(why -> log.info("TLS: issued a new server certificate from {} because {}",
                    config.caCertFile(), why));
            credentials = issued.credentials();
            ca = given;
        } else {
            credentials = credentials(s, config.certFile(), config.chainFile(), config.keyFile());
        }
        return new TlsMaterial(credentials, clientCas);
    }

    private static ServerCredentials credentials(FileReloader.Snapshot s, Path certFile, Path chainFile, Path keyFile)
            throws IOException {
        List<X509Certificate> chain = new ArrayList<>(Pem.parseCertificates(s.text(certFile), certFile.toString()));
        if (chainFile != null) {
            chain.addAll(Pem.parseCertificates(s.text(chainFile), chainFile.toString()));
        }
        PrivateKey key = Pem.parsePrivateKey(s.text(keyFile), keyFile.toString());
        try {
            return new ServerCredentials(key, chain);
        } catch (IllegalArgumentException e) {
            throw new IOException(keyFile + " does not belong to the first certificate of " + certFile + ": "
                    + e.getMessage(), e);
        }
    }

    /** Builds the context and makes it the one new connections get. */
    private void install(TlsMaterial m) {
        SslContext built;
        try {
            built = SslContexts.server(m, config.clientAuth(), provider);
        } catch (IOException e) {
            throw new IllegalStateException("cannot build the TLS context: " + e.getMessage(), e);
        }
        boolean first = context == null;
        material = m;
        context = built;
        X509Certificate leaf = m.credentials().leaf();
        if (!first) {
            log.info("TLS: new handshakes now get the certificate {} (serial {}, valid until {}); open connections keep theirs",
                    leaf.getSubjectX500Principal(), leaf.getSerialNumber().toString(16), m.credentials().notAfter());
        }
        if (!m.credentials().notAfter().isAfter(clock.instant())) {
            log.warn("TLS: the server certificate {} expired on {}", leaf.getSubjectX500Principal(), m.credentials().notAfter());
        }
    }

    private void logStart(Path dataDir) {
        ServerCredentials c = material.credentials();
        String engine = provider == SslProvider.OPENSSL ? "OpenSSL (BoringSSL)"
                : "JDK" + (SslContexts.openSslUnavailableReason() == null ? "" : " (OpenSSL unavailable: "
                        + SslContexts.openSslUnavailableReason() + ")");
        log.info("TLS: {} serving a certificate for {} (serial {}, valid until {}), {}, client certificates: {}",
                config.mode().name().toLowerCase(Locale.ROOT), c.names().all(),
                c.leaf().getSerialNumber().toString(16), c.notAfter(), engine,
                config.clientAuth().name().toLowerCase(Locale.ROOT));
        CertificateAuthority authority = ca;
        if (config.mode() == TlsConfig.Mode.GENERATE) {
            Path caFile = dataDir.resolve(PKI_DIR).resolve(CertificateAuthority.CA_CERT_FILE).toAbsolutePath();
            log.info("TLS: {} the CA {} (SHA-256 {}) in {}. Clients must trust it; export it with:"
                            + " ocimirror ca export --format pem --data {}",
                    authority.created() ? "created" : "using", authority.certificate().getSubjectX500Principal(),
                    authority.fingerprint(), caFile, dataDir.toAbsolutePath());
        } else if (authority != null) {
            log.info("TLS: issuing from the given CA {} (SHA-256 {}) in {}. Clients must trust it; export it with:"
                            + " ocimirror ca export --format pem --ca-file {}",
                    authority.certificate().getSubjectX500Principal(), authority.fingerprint(),
                    config.caCertFile().toAbsolutePath(), config.caCertFile().toAbsolutePath());
        } else {
            log.info("TLS: certificate {} issued by {}", c.leaf().getSubjectX500Principal(), c.leaf().getIssuerX500Principal());
        }
    }
}
