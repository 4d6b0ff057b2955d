package ocimirror.server.auth;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client authorization by the upstream ({@code authorization: upstream}): whether a client may
 * read a repository of such an upstream is what the upstream answers when asked with the
 * client's own Basic credentials (a {@link Probe}). The answer, positive or not, is remembered
 * per upstream, repository and credential for the upstream's {@code authorizationTtl} by the
 * injected clock, in a bounded in-memory cache keyed by the SHA-256 of the Authorization value
 * (the credentials themselves are kept only while a probe runs). Concurrent checks of one key
 * share one probe. Netty-free and thread-safe; futures complete on the probe's threads.
 *
 * <p>A probe that fails (the upstream unreachable, timing out, 5xx, 429) fails the check with
 * {@code 503 UNAVAILABLE}: a remembered positive answer is used while it is valid, and nothing
 * else lets a client in.
 */
public final class UpstreamAuthorization implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(UpstreamAuthorization.class);
    /** Remembered answers at most: a credential and repository each, a few hundred bytes apiece. */
    public static final int MAX_ENTRIES = 100_000;

    /** Asks the upstream; see {@link ocimirror.server.upstream.CredentialProbe#status}. */
    @FunctionalInterface
    public interface Probe {
        /** The upstream's final HTTP status for a manifest HEAD of {@code repo} with {@code client}'s credentials. */
        CompletableFuture<Integer> status(RepoName repo, String reference, RegistryCredentials client);
    }

    public enum Outcome {
        /** The upstream accepted the credentials for the repository. */
        ALLOWED,
        /** No usable Basic credentials: 401 with the mirror's challenge, the upstream not asked. */
        CHALLENGE,
        /** The upstream answered 401. */
        UNAUTHORIZED,
        /** The upstream answered 403. */
        DENIED
    }

    /** @param user the client's user name (for the access log); null for {@link Outcome#CHALLENGE} */
    public record Verdict(Outcome outcome, String user) {
        public boolean allowed() {
            return outcome == Outcome.ALLOWED;
        }
    }

    /** Counts per upstream, read by the metrics. */
    public static final class Stats {
        private final LongAdder checks = new LongAdder();
        private final LongAdder allowed = new LongAdder();
        private final LongAdder denied = new LongAdder();
        private final LongAdder cached = new LongAdder();
        private final LongAdder unavailable = new LongAdder();

        /** Probes sent to the upstream. */
        public long checks() {
            return checks.sum();
        }

        /** Requests let in. */
        public long allowed() {
            return allowed.sum();
        }

        /** Requests refused: no credentials, or the upstream's 401 or 403. */
        public long denied() {
            return denied.sum();
        }

        /** Requests decided by a remembered answer, without asking the upstream. */
        public long cached() {
            return cached.sum();
        }

        /** Requests answered 503 because the upstream could not be asked. */
        public long unavailable() {
            return unavailable.sum();
        }
    }

    private record Key(String upstream, String repo, String credential) {
    }

    private record Remembered(Outcome outcome, Instant until) {
    }

    private final Map<String, Probe> probes;
    private final Map<String, Stats> stats;
    private final Clock clock;
    private final String challenge;
    private final Cache<Key, Remembered> answers;
    private final ConcurrentHashMap<Key, CompletableFuture<Outcome>> inflight = new ConcurrentHashMap<>();

    /**
     * @param probes one per upstream with {@code authorization: upstream}, by upstream name
     * @param realm  the mirror's Basic realm ({@code auth.realm}), for the challenge of a refusal
     */
    public UpstreamAuthorization(Map<String, ? extends Probe> probes, Clock clock, int maxEntries, String realm) {
        this.probes = Map.copyOf(requireNonNull(probes, "probes"));
        this.clock = requireNonNull(clock, "clock");
        this.challenge = "Basic realm=\"" + requireNonNull(realm, "realm") + "\"";
        Map<String, Stats> s = new ConcurrentHashMap<>();
        this.probes.keySet().forEach(name -> s.put(name, new Stats()));
        this.stats = Map.copyOf(s);
        this.answers = Caffeine.newBuilder().maximumSize(maxEntries).build();
    }

    /** No upstream delegates: {@link #check} refuses every request with 503 (a wiring mistake fails closed). */
    public static UpstreamAuthorization none() {
        return new UpstreamAuthorization(Map.of(), Clock.systemUTC(), 1, "ocimirror");
    }

    /** The {@code WWW-Authenticate} value of a 401: the mirror's own challenge, never the upstream's. */
    public String challenge() {
        return challenge;
    }

    /** Whether any upstream delegates (then {@code /v2/} without credentials is challenged, so that clients send theirs). */
    public boolean delegates() {
        return !probes.isEmpty();
    }

    /** The upstreams that delegate, with their counts. */
    public Map<String, Stats> stats() {
        return stats;
    }

    /**
     * Decides whether the client that sent {@code authorization} (the raw header value, or null)
     * may read {@code repo} of {@code upstream}.
     *
     * @param repo      the repository's name at the upstream
     * @param reference the manifest reference to HEAD (any: a 404 is an acceptance too)
     */
    public CompletableFuture<Verdict> check(UpstreamConfig upstream, RepoName repo, String reference,
                                            String authorization) {
        Probe probe = probes.get(upstream.name());
        Stats s = stats.get(upstream.name());
        if (probe == null) {
            return CompletableFuture.failedFuture(OciError.UNAVAILABLE.exception("upstream '" + upstream.name()
                    + "' decides client authorization, but the mirror cannot ask it"));
        }
        RegistryCredentials client = basic(authorization);
        if (client == null) {
            s.denied.increment();
            return CompletableFuture.completedFuture(new Verdict(Outcome.CHALLENGE, null));
        }
        Key key = new Key(upstream.name(), repo.toString(), sha256(authorization));
        Remembered known = answers.getIfPresent(key);
        Instant now = clock.instant();
        if (known != null && now.isBefore(known.until())) {
            s.cached.increment();
            return CompletableFuture.completedFuture(count(s, new Verdict(known.outcome(), client.username())));
        }
        CompletableFuture<Outcome> mine = new CompletableFuture<>();
        CompletableFuture<Outcome> shared = inflight.putIfAbsent(key, mine);
        if (shared == null) {
            shared = mine;
            s.checks.increment();
            ask(probe, upstream, repo, reference, client, key, mine);
        }
        return shared.handle((outcome, e) -> {
            if (e != null) {
                s.unavailable.increment();
                Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                throw OciError.UNAVAILABLE.exception("upstream '" + upstream.name()
                        + "' could not be asked whether it accepts the client's credentials: " + c.getMessage());
            }
            return count(s, new Verdict(outcome, client.username()));
        });
    }

    private void ask(Probe probe, UpstreamConfig upstream, RepoName repo, String reference, RegistryCredentials client,
                     Key key, CompletableFuture<Outcome> out) {
        CompletableFuture<Integer> status;
        try {
            status = probe.status(repo, reference, client);
        } catch (RuntimeException e) {
            status = CompletableFuture.failedFuture(e);
        }
        status.whenComplete((code, e) -> {
            inflight.remove(key, out);
            if (e != null) {
                // The message names the upstream, the path and the status: never a credential.
                log.debug("upstream '{}': client authorization check for {} failed: {}", upstream.name(), repo,
                        e.getMessage());
                out.completeExceptionally(e);
                return;
            }
            Outcome o = code == 401 ? Outcome.UNAUTHORIZED : code == 403 ? Outcome.DENIED : Outcome.ALLOWED;
            answers.put(key, new Remembered(o, clock.instant().plus(upstream.authorization().ttl())));
            out.complete(o);
        });
    }

    private static Verdict count(Stats s, Verdict v) {
        (v.allowed() ? s.allowed : s.denied).increment();
        return v;
    }

    /** The credentials of a {@code Basic} Authorization value, or null if it is none or unusable. */
    static RegistryCredentials basic(String authorization) {
        if (authorization == null || authorization.length() < 7
                || !authorization.substring(0, 6).toLowerCase(Locale.ROOT).equals("basic ")) {
            return null;
        }
        try {
            String decoded = new String(Base64.getDecoder().decode(authorization.substring(6).trim()),
                    StandardCharsets.UTF_8);
            int colon = decoded.indexOf(':');
            return colon <= 0 || colon == decoded.length() - 1 ? null
                    : new RegistryCredentials(decoded.substring(0, colon), decoded.substring(colon + 1));
        } catch (IllegalArgumentException e) {
            return null; // not base64: treated as no credentials, and the message may echo it, so not logged
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Closes the probes that hold connections. */
    @Override
    public void close() {
        for (Probe p : probes.values()) {
            if (p instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    log.debug("closing a client authorization probe", e);
                }
            }
        }
    }
}
