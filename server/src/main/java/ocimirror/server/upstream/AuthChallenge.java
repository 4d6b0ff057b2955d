package ocimirror.server.upstream;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One challenge from a {@code WWW-Authenticate} header (RFC 9110 section 11.6.1), such as
 * {@code Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"}.
 *
 * @param scheme lower case ({@code bearer}, {@code basic})
 * @param params auth-params with lower-case names, quoted values unescaped
 */
record AuthChallenge(String scheme, Map<String, String> params) {

    String param(String name) {
        return params.get(name);
    }

    /**
     * Every challenge in one header value. A token followed by {@code =} is a parameter of the
     * challenge being read; any other token starts the next challenge. Unparsable rest is ignored.
     */
    static List<AuthChallenge> parse(String header) {
        List<AuthChallenge> out = new ArrayList<>();
        if (header == null) {
            return out;
        }
        Cursor c = new Cursor(header);
        String scheme = null;
        Map<String, String> params = new LinkedHashMap<>();
        while (true) {
            c.skip(" \t,");
            if (c.end()) {
                break;
            }
            String tok = c.token();
            if (tok.isEmpty()) {
                break;
            }
            c.skip(" \t");
            if (scheme != null && c.take('=')) {
                c.skip(" \t");
                String value = c.peek() == '"' ? c.quoted() : c.token();
                params.putIfAbsent(tok.toLowerCase(Locale.ROOT), value);
            } else {
                if (scheme != null) {
                    out.add(new AuthChallenge(scheme, Map.copyOf(params)));
                    params.clear();
                }
                scheme = tok.toLowerCase(Locale.ROOT);
            }
        }
        if (scheme != null) {
            out.add(new AuthChallenge(scheme, Map.copyOf(params)));
        }
        return out;
    }

    private static final class Cursor {
        final String s;
        int pos;

        Cursor(String s) {
            this.s = s;
        }

        boolean end() {
            return pos >= s.length();
        }

        char peek() {
            return end() ? '\0' : s.charAt(pos);
        }

        boolean take(char ch) {
            if (peek() == ch && !end()) {
                pos++;
                return true;
            }
            return false;
        }

        void skip(String chars) {
            while (!end() && chars.indexOf(s.charAt(pos)) >= 0) {
                pos++;
            }
        }

        // RFC 9110 tchar, plus '/' so that a token68 or an unquoted URL does not stop the scan midway
        String token() {
            int start = pos;
            while (!end()) {
                char ch = s.charAt(pos);
                if (Character.isLetterOrDigit(ch) || "!#$%&'*+-.^_`|~/:".indexOf(ch) >= 0) {
                    pos++;
                } else {
                    break;
                }
            }
            return s.substring(start, pos);
        }

        String quoted() {
            StringBuilder b = new StringBuilder();
            pos++; // opening quote
            while (!end()) {
                char ch = s.charAt(pos++);
                if (ch == '"') {
                    return b.toString();
                }
                if (ch == '\\' && !end()) {
                    ch = s.charAt(pos++);
                }
                b.append(ch);
            }
            return b.toString(); // unterminated: take what there is
        }
    }
}
