package ocimirror.config;

import java.time.Duration;
import java.util.Locale;

/**
 * Who decides whether a client may read an upstream's repositories ({@code authorization:} and
 * {@code authorizationTtl:} of an upstream). Immutable.
 *
 * <p>{@code mirror} (the default): the mirror's own client authentication ({@code auth:}), as for
 * every other repository. {@code upstream}: the upstream itself, asked with the client's own
 * credentials for each repository; its answer is remembered in memory for {@code ttl}, so a
 * revoked credential keeps working that long at most.
 *
 * @param upstream whether the upstream decides
 * @param ttl      how long an answer is remembered; positive, at most {@link #MAX_TTL}
 */
public record ClientAuthorization(boolean upstream, Duration ttl) {
    public static final Duration DEFAULT_TTL = Duration.ofSeconds(60);
    /** Longer, and a password the upstream revoked would open the mirror for too long. */
    public static final Duration MAX_TTL = Duration.ofHours(1);

    public ClientAuthorization {
        ttl = ttl == null ? DEFAULT_TTL : ttl;
        String problem = ttlProblem(ttl);
        if (problem != null) {
            throw new IllegalArgumentException("authorizationTtl " + problem);
        }
    }

    /** The mirror's own client authentication decides (the default). */
    public static ClientAuthorization mirror() {
        return new ClientAuthorization(false, DEFAULT_TTL);
    }

    /** The upstream decides, its answers remembered for {@code ttl} (null: the default). */
    public static ClientAuthorization upstream(Duration ttl) {
        return new ClientAuthorization(true, ttl);
    }

    /** {@code mirror} or {@code upstream}, as the configuration file says it. */
    public String mode() {
        return upstream ? "upstream" : "mirror";
    }

    /** Parses {@code mirror} or {@code upstream}, case-insensitive; null if it is neither. */
    static Boolean parseMode(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "upstream" -> true;
            case "mirror" -> false;
            default -> null;
        };
    }

    /** What is wrong with {@code ttl}, worded after the field name, or null. */
    static String ttlProblem(Duration ttl) {
        if (ttl.isNegative() || ttl.isZero()) {
            return "must be positive, got " + ttl.toSeconds() + " s";
        }
        if (ttl.compareTo(MAX_TTL) > 0) {
            return "must be at most " + MAX_TTL.toMinutes() + " minutes, got " + ttl.toSeconds() + " s";
        }
        return null;
    }
}
