package ocimirror.server.auth;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import ocimirror.config.AuthConfig;
import ocimirror.server.reload.FileReloader;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Basic authentication against an htpasswd file of bcrypt entries, with per-user pull/push rights
 * ({@link AuthConfig}). No Netty here: {@code ClientAuthHandler} adapts it to the pipeline.
 *
 * <p><b>Timing.</b> A wrong password and an unknown user cost the same: an unknown user is
 * checked against a dummy hash of the file's usual cost, and BouncyCastle compares hashes in
 * constant time. A malformed header or a missing one is answered at once; neither reveals a user.
 *
 * <p><b>Throttling.</b> Failed attempts are counted per client address ({@link FailureThrottle}):
 * after five within a minute the address's next attempt, however late, is answered
 * {@link Decision.Outcome#THROTTLED} (429, with a Retry-After) without a password check, and so is
 * every attempt for a delay from then on (1 s, doubling with each further failure, at most 5 min).
 * Behind a load balancer every client has the balancer's address: a guessing client then slows
 * the others' <em>new</em> logins, never ones already verified (below).
 *
 * <p><b>Verified-credentials cache.</b> bcrypt is meant to be slow (a few to hundreds of
 * milliseconds), and a node pulls an image with dozens of requests, each carrying the header. A
 * header that verified is remembered for {@link #VERIFIED_TTL}, keyed by the SHA-256 of the whole
 * header value, so later requests skip bcrypt, and are let through even while the address is
 * throttled (a guesser cannot produce a remembered header without the password). The tradeoff:
 * for that long, the process holds a fast hash of each live password, which a heap dump would let
 * an attacker brute-force far faster than the bcrypt entries; the plain passwords pass through the
 * same memory in every request anyway. Rights are looked up on every request, and a reloaded
 * file empties the cache, so a removed user or a changed password takes effect at the reload.
 *
 * <p>Thread-safe. {@link #authorize} may run bcrypt: call it off the event loop, or first try
 * {@link #authorizeWithoutHashing}.
 */
public final class HtpasswdAuthenticator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HtpasswdAuthenticator.class);
    /** How long a verified header skips bcrypt. */
    public static final Duration VERIFIED_TTL = Duration.ofMinutes(5);
    /** How often {@link #watch} looks at the file when the caller has no opinion. */
    public static final Duration DEFAULT_CHECK_INTERVAL = Duration.ofSeconds(10);
    private static final int VERIFIED_MAX = 10_000;

    /** The answer to one request. */
    public record Decision(Outcome outcome, String user, Duration retryAfter) {
        public enum Outcome {
            /** Let the request through. */
            ALLOW,
            /** 401 with {@code WWW-Authenticate}: no, malformed or wrong credentials. */
            CHALLENGE,
            /** 403: a known user without the right (a push with pull access). */
            DENIED,
            /** 429 with {@code Retry-After}: too many failures from this address. */
            THROTTLED
        }

        static Decision of(Outcome o, String user) {
            return new Decision(o, user, null);
        }
    }

    private final AuthConfig config;
    private final FailureThrottle throttle;
    private final Cache<String, String> verified;
    private final FileReloader<Users> reloader;
    private volatile Users users;
    private volatile ScheduledFuture<?> watch;

    /** The file's users and the dummy hash unknown users are checked against. */
    private record Users(HtpasswdFile file, String dummyHash) {
    }

    /**
     * Loads the htpasswd file of {@code config}.
     *
     * @throws IOException naming the file and line of the first bad entry
     * @throws IllegalArgumentException when {@code config} has no htpasswd file
     */
    public HtpasswdAuthenticator(AuthConfig config, Clock clock) throws IOException {
        this.config = requireNonNull(config, "config");
        requireNonNull(clock, "clock");
        if (!config.enabled()) {
            throw new IllegalArgumentException("client authentication is not configured (auth.htpasswd)");
        }
        this.throttle = new FailureThrottle(clock);
        this.verified = Caffeine.newBuilder()
                .ticker(() -> FailureThrottle.nanos(clock))
                .expireAfterWrite(VERIFIED_TTL)
                .maximumSize(VERIFIED_MAX)
                .build();
        this.reloader = new FileReloader<>("htpasswd", List.of(config.htpasswd()), this::load, this::install);
        FileReloader.Snapshot first = reloader.read();
        install(load(first));
        reloader.accept(first);
    }

    /**
     * Decides {@code push} (POST, PUT, PATCH, DELETE) or pull for a request from
     * {@code clientAddress} carrying {@code authorization} (null when absent). May run bcrypt.
     */
    public Decision authorize(String authorization, String clientAddress, boolean push) {
        Optional<Decision> quick = authorizeWithoutHashing(authorization, clientAddress, push);
        if (quick.isPresent()) {
            return quick.get();
        }
        Credentials c = Credentials.parse(authorization);
        if (c == null) {
            throttle.failure(clientAddress);
            return Decision.of(Decision.Outcome.CHALLENGE, null);
        }
        Users u = users;
        String hash = u.file().hashes().get(c.user());
        boolean ok = check(hash == null ? u.dummyHash() : hash, c.password()) && hash != null;
        if (!ok) {
            throttle.failure(clientAddress);
            log.debug("authentication failed from {} for user '{}'", clientAddress, c.user());
            return Decision.of(Decision.Outcome.CHALLENGE, null);
        }
        throttle.success(clientAddress);
        verified.put(key(authorization), c.user());
        return rights(c.user(), push);
    }

    /**
     * The decision when it needs no bcrypt: no credentials, credentials verified recently, or an
     * address that must wait. Empty when {@link #authorize} has to check a password. Cheap enough
     * for an event loop (one SHA-256 of the header).
     */
    public Optional<Decision> authorizeWithoutHashing(String authorization, String clientAddress, boolean push) {
        requireNonNull(clientAddress, "clientAddress");
        if (authorization == null || authorization.isBlank()) {
            return Optional.of(Decision.of(Decision.Outcome.CHALLENGE, null));
        }
        if (!Credentials.isBasic(authorization)) {
            // A Bearer token from another registry's flow is not a guess: challenge, do not count.
            return Optional.of(Decision.of(Decision.Outcome.CHALLENGE, null));
        }
        String user = verified.getIfPresent(key(authorization));
        if (user != null) {
            return Optional.of(rights(user, push));
        }
        Optional<Duration> wait = throttle.blocked(clientAddress);
        if (wait.isPresent()) {
            return Optional.of(new Decision(Decision.Outcome.THROTTLED, null, wait.get()));
        }
        return Optional.empty();
    }

    /**
     * The user names of an htpasswd file, parsed exactly as the authenticator would (for
     * {@code config check}).
     *
     * @throws IOException naming the file and line of the first bad entry
     */
    public static List<String> users(Path htpasswd) throws IOException {
        byte[] b = Files.readAllBytes(htpasswd);
        return List.copyOf(HtpasswdFile.parse(new String(b, StandardCharsets.ISO_8859_1), htpasswd.toString())
                .hashes().keySet());
    }

    /** The {@code WWW-Authenticate} value of a 401. */
    public String challenge() {
        return "Basic realm=\"" + config.realm() + "\"";
    }

    /** How many users the file has now. */
    public int userCount() {
        return users.file().hashes().size();
    }

    /** Reloads the file now if its content changed; true when the new one is in use. */
    public boolean reload() {
        return reloader.check();
    }

    /** Re-reads the file every {@code period} on {@code scheduler} until {@link #close}. */
    public void watch(ScheduledExecutorService scheduler, Duration period) {
        ScheduledFuture<?> old = watch;
        if (old != null) {
            old.cancel(false);
        }
        watch = FileReloader.every(scheduler, period, "htpasswd", reloader::check);
    }

    @Override
    public void close() {
        ScheduledFuture<?> w = watch;
        if (w != null) {
            w.cancel(false);
        }
    }

    private Decision rights(String user, boolean push) {
        return config.accessOf(user).allows(push)
                ? Decision.of(Decision.Outcome.ALLOW, user)
                : Decision.of(Decision.Outcome.DENIED, user);
    }

    private Users load(FileReloader.Snapshot s) throws IOException {
        HtpasswdFile file = HtpasswdFile.parse(s.text(config.htpasswd()), config.htpasswd().toString());
        byte[] salt = new byte[16];
        SecureRandom random = new SecureRandom();
        random.nextBytes(salt);
        char[] nobody = HexFormat.of().formatHex(salt).toCharArray();
        random.nextBytes(salt);
        return new Users(file, OpenBSDBCrypt.generate("2y", nobody, salt, file.cost()));
    }

    private void install(Users u) {
        boolean first = users == null;
        users = u;
        verified.invalidateAll();
        for (String named : config.users().keySet()) {
            if (!u.file().hashes().containsKey(named)) {
                log.warn("auth.users names '{}', who is not in {}", named, config.htpasswd());
            }
        }
        log.info("client authentication: {} {} users from {} (realm \"{}\")", first ? "loaded" : "reloaded",
                u.file().hashes().size(), config.htpasswd(), config.realm());
    }

    private static boolean check(String hash, String password) {
        try {
            return OpenBSDBCrypt.checkPassword(hash, password.toCharArray());
        } catch (RuntimeException e) {
            return false; // a password bcrypt cannot take; the hash itself was validated at load
        }
    }

    private static String key(String authorization) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(authorization.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A decoded {@code Basic} header. */
    private record Credentials(String user, String password) {
        static boolean isBasic(String header) {
            return header.length() > 6 && header.substring(0, 6).toLowerCase(Locale.ROOT).equals("basic ");
        }

        /** Null when the header is not well-formed Basic credentials. */
        static Credentials parse(String header) {
            if (!isBasic(header)) {
                return null;
            }
            byte[] raw;
            try {
                raw = Base64.getDecoder().decode(header.substring(6).trim());
            } catch (IllegalArgumentException e) {
                return null;
            }
            String text = new String(raw, StandardCharsets.UTF_8);
            int colon = text.indexOf(':');
            return colon <= 0 ? null : new Credentials(text.substring(0, colon), text.substring(colon + 1));
        }
    }
}
