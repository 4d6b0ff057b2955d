package ocimirror.server.auth;

import java.io.IOException;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The users of an htpasswd file, each with a bcrypt hash as {@code htpasswd -B} writes it
 * ({@code $2y$}, or {@code $2a$}/{@code $2b$} from other tools). Other hash types (MD5 apr1,
 * SHA-1, crypt, plain text) are refused with the line: they are fast to brute-force, and a
 * file that mixes them is better fixed than half-used.
 *
 * @param hashes user name → bcrypt hash, in file order
 * @param cost   the most common bcrypt cost in the file (5, htpasswd's default, when empty):
 *               what an unknown user's dummy check costs
 */
record HtpasswdFile(Map<String, String> hashes, int cost) {
    private static final Pattern BCRYPT = Pattern.compile("\\$2[aby]\\$(\\d\\d)\\$[./A-Za-z0-9]{53}");
    static final int DEFAULT_COST = 5;

    HtpasswdFile {
        hashes = Collections.unmodifiableMap(new LinkedHashMap<>(hashes));
    }

    /**
     * Parses htpasswd text: {@code user:hash} lines; blank lines and {@code #} comments are skipped.
     *
     * @param source names the file in messages, which read {@code source:LINE: ...}
     */
    static HtpasswdFile parse(String text, String source) throws IOException {
        Map<String, String> hashes = new LinkedHashMap<>();
        Map<String, Integer> lineOf = new HashMap<>();
        Map<Integer, Integer> costs = new HashMap<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int n = i + 1;
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new IOException(source + ":" + n + ": expected user:hash");
            }
            String user = line.substring(0, colon);
            String hash = line.substring(colon + 1);
            Matcher m = BCRYPT.matcher(hash);
            if (!m.matches()) {
                throw new IOException(source + ":" + n + ": user '" + user + "' has " + kind(hash)
                        + "; only bcrypt is accepted: recreate the entry with htpasswd -B");
            }
            int cost = Integer.parseInt(m.group(1));
            if (cost < 4 || cost > 31) {
                throw new IOException(source + ":" + n + ": user '" + user + "': bcrypt cost " + cost + " out of range 4..31");
            }
            Integer first = lineOf.putIfAbsent(user, n);
            if (first != null) {
                throw new IOException(source + ":" + n + ": user '" + user + "' again (first on line " + first + ")");
            }
            hashes.put(user, hash);
            costs.merge(cost, 1, Integer::sum);
        }
        int common = costs.entrySet().stream().max(Map.Entry.<Integer, Integer>comparingByValue()
                .thenComparing(Map.Entry.comparingByKey())).map(Map.Entry::getKey).orElse(DEFAULT_COST);
        return new HtpasswdFile(hashes, common);
    }

    private static String kind(String hash) {
        if (hash.startsWith("$apr1$")) {
            return "an MD5 (apr1) hash";
        }
        if (hash.startsWith("{SHA}")) {
            return "a SHA-1 hash";
        }
        if (hash.startsWith("$5$") || hash.startsWith("$6$")) {
            return "a SHA-crypt hash";
        }
        if (hash.startsWith("$2")) {
            return "a malformed bcrypt hash";
        }
        return "a crypt or plain-text password";
    }
}
