package ocimirror.server.access;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Writes the access log: one line per request on the logger {@value #LOGGER}, at INFO (successful
 * metrics scrapes and health probes at DEBUG: a probe every few seconds would drown the rest).
 * The message is the fields as {@code key=value} (logfmt, values with spaces or quotes quoted);
 * the same fields are in the MDC while the line is logged, which is where the JSON format puts them
 * ({@code "mdc": {"status": "200", ...}}), unless the output is the built-in text pattern, which
 * does not show the MDC (filling it was a fifth of a manifest GET's garbage).
 *
 * <p>Fields: {@code method}, {@code path} (without the query), {@code route} (kind), {@code status}
 * (499: the client left before a response), {@code bytes} (body bytes written), {@code duration_ms}
 * (arrival to last byte written), {@code upstream} and {@code cache} ({@code -} for hosted and other
 * requests), {@code request_id} (also sent as {@code X-Request-Id}), {@code client} (address:port
 * of the connection), and {@code aborted=true} when the connection closed before the response ended.
 */
public final class AccessLog {
    public static final String LOGGER = "ocimirror.access";
    /** The MDC keys, in the order of the text line. */
    public static final List<String> FIELDS = List.of("method", "path", "route", "status", "bytes", "duration_ms",
            "upstream", "cache", "request_id", "client");

    private final Logger log;
    private final boolean fieldsInMdc;
    private final ThreadLocal<StringBuilder> lines = ThreadLocal.withInitial(() -> new StringBuilder(256));

    /** The access log as logging is set up now: {@link LogSetup#apply} comes first. */
    public AccessLog() {
        this(LoggerFactory.getLogger(LOGGER), LogSetup.accessFieldsInMdc());
    }

    AccessLog(Logger log, boolean fieldsInMdc) {
        this.log = log;
        this.fieldsInMdc = fieldsInMdc;
    }

    /** Logs {@code r}, finished after {@code nanos}; {@code aborted}: its response did not end. */
    void log(RequestRecord r, long nanos, boolean aborted) {
        boolean debug = r.route() != null && r.route().ops() && r.status < 400 && !aborted;
        if (debug ? !log.isDebugEnabled() : !log.isInfoEnabled()) {
            return;
        }
        String route = r.route() == null ? "-" : r.route().label();
        String upstream = r.upstream() == null ? "-" : r.upstream();
        String cache = r.cache() == null ? "-" : r.cache().label();
        // The line is built in the logging thread's buffer; the message is its one string.
        StringBuilder line = lines.get();
        line.setLength(0);
        field(line, 0, r.method);
        field(line, 1, r.path);
        field(line, 2, route);
        line.append(' ').append(FIELDS.get(3)).append('=').append(r.status);
        line.append(' ').append(FIELDS.get(4)).append('=').append(r.bytes);
        millis(line.append(' ').append(FIELDS.get(5)).append('='), nanos);
        field(line, 6, upstream);
        field(line, 7, cache);
        field(line, 8, r.id);
        field(line, 9, r.client);
        if (aborted) {
            line.append(" aborted=true");
        }
        String message = line.toString();
        if (!fieldsInMdc) {
            write(debug, message);
            return;
        }
        String[] values = {r.method, r.path, route, Integer.toString(r.status), Long.toString(r.bytes),
            millis(new StringBuilder(), nanos).toString(), upstream, cache, r.id, r.client};
        for (int i = 0; i < values.length; i++) {
            MDC.put(FIELDS.get(i), values[i]);
        }
        if (aborted) {
            MDC.put("aborted", "true");
        }
        try {
            write(debug, message);
        } finally {
            FIELDS.forEach(MDC::remove);
            MDC.remove("aborted");
        }
    }

    private void write(boolean debug, String message) {
        if (debug) {
            log.debug(message);
        } else {
            log.info(message);
        }
    }

    private static void field(StringBuilder line, int field, String value) {
        if (field > 0) {
            line.append(' ');
        }
        quote(line.append(FIELDS.get(field)).append('='), value);
    }

    /** Appends milliseconds with three decimals. */
    static StringBuilder millis(StringBuilder out, long nanos) {
        long micros = Math.max(0, nanos / 1000);
        long frac = micros % 1000;
        return out.append(micros / 1000).append('.').append(frac < 10 ? "00" : frac < 100 ? "0" : "").append(frac);
    }

    /** Appends {@code v}, quoted if it holds a space, quote, backslash or '='; control characters escaped. */
    static void quote(StringBuilder out, String v) {
        if (isPlain(v)) {
            out.append(v);
            return;
        }
        out.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }

    private static boolean isPlain(String v) {
        if (v.isEmpty()) {
            return false;
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') {
                return false;
            }
        }
        return true;
    }
}
