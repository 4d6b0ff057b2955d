package ocimirror.config;

import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code auth:} section: who may use the mirror. Immutable, validated on construction; null
 * components take the defaults below. Error messages start with the field's path.
 *
 * <pre>
 * auth:
 *   htpasswd: /etc/ocimirror/htpasswd   # bcrypt entries (htpasswd -B); absent: no client authentication
 *   realm: ocimirror                    # sent in WWW-Authenticate: Basic realm="..."
 *   defaultAccess: pull                 # users of the file not listed below
 *   users:                              # per-user rights: pull, or push (which includes pull)
 *     ci: push
 * </pre>
 *
 * <p>Why {@code pull} by default: a mirror is mostly read, and pushing into it (the hosted
 * namespaces of an air-gapped site) overwrites what every node pulls, so push is granted to
 * named users only. {@code defaultAccess: push} gives every user of the file both, as CNCF
 * distribution's htpasswd auth does.
 *
 * @param htpasswd      the htpasswd file, or null when clients are not authenticated
 * @param realm         the Basic realm clients are challenged with; default {@value #DEFAULT_REALM}
 * @param users         rights of named users (names as in the htpasswd file)
 * @param defaultAccess rights of users of the file who are not in {@code users}; default pull
 */
public record AuthConfig(Path htpasswd, String realm, Map<String, Access> users, Access defaultAccess) {
    public static final String DEFAULT_REALM = "ocimirror";

    /** What an authenticated user may do. */
    public enum Access {
        /** GET and HEAD. */
        PULL,
        /** Pull, and POST, PUT, PATCH and DELETE. */
        PUSH;

        /** Whether this access covers a request that pushes ({@code push}) or only reads. */
        public boolean allows(boolean push) {
            return !push || this == PUSH;
        }

        /** Parses {@code pull} or {@code push}, case-insensitive. */
        public static Access fromName(String name) {
            return TlsConfig.parse(Access.class, name, "auth access", "pull or push");
        }
    }

    public AuthConfig {
        realm = realm == null ? DEFAULT_REALM : realm;
        if (realm.isEmpty() || realm.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c > 0x7e)) {
            throw new IllegalArgumentException("auth.realm: printable ASCII without quotes or backslashes, got '"
                    + realm + "'");
        }
        users = users == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(users));
        for (Map.Entry<String, Access> e : users.entrySet()) {
            String user = e.getKey();
            if (user == null || user.isEmpty() || user.indexOf(':') >= 0 || user.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("auth.users: bad user name '" + user + "' (no ':' or spaces)");
            }
            if (e.getValue() == null) {
                throw new IllegalArgumentException("auth.users." + user + ": expected pull or push");
            }
        }
        defaultAccess = defaultAccess == null ? Access.PULL : defaultAccess;
        if (htpasswd == null && !users.isEmpty()) {
            throw new IllegalArgumentException("auth.users: needs auth.htpasswd (the file the users are in)");
        }
    }

    /** No client authentication: every client may pull and push. */
    public static AuthConfig disabled() {
        return new AuthConfig(null, null, null, null);
    }

    /** Whether clients must authenticate. */
    public boolean enabled() {
        return htpasswd != null;
    }

    /** The rights of {@code user} (an authenticated user of the file). */
    public Access accessOf(String user) {
        return users.getOrDefault(user, defaultAccess);
    }
}
