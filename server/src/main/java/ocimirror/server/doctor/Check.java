package ocimirror.server.doctor;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The outcome of one check: what was checked ({@code upstream 'a' tls}, {@code mirror names}),
 * how it went, what was found and, unless it passed, what to do about it.
 *
 * @param status  the verdict
 * @param subject what was checked, e.g. {@code upstream 'a' dns}
 * @param message what was found, one line
 * @param fix     what to do, one line; null for {@link Status#OK} and {@link Status#SKIP}
 */
public record Check(Status status, String subject, String message, String fix) {

    /** The verdicts, with the word printed for each. */
    public enum Status {
        OK("ok"),
        /** Works now, but will not for long or not everywhere. */
        WARN("warn"),
        FAIL("FAIL"),
        /** Not checked (an earlier check failed, or there is nothing to check). */
        SKIP("skip");

        private final String word;

        Status(String word) {
            this.word = word;
        }

        public String word() {
            return word;
        }
    }

    public Check {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(message, "message");
        if ((status == Status.FAIL || status == Status.WARN) && fix == null) {
            throw new IllegalArgumentException("a " + status.word() + " needs a fix: " + subject + ": " + message);
        }
    }

    static Check ok(String subject, String message) {
        return new Check(Status.OK, subject, message, null);
    }

    static Check warn(String subject, String message, String fix) {
        return new Check(Status.WARN, subject, message, fix);
    }

    static Check fail(String subject, String message, String fix) {
        return new Check(Status.FAIL, subject, message, fix);
    }

    static Check skip(String subject, String message) {
        return new Check(Status.SKIP, subject, message, null);
    }

    /**
     * The printed form: {@code "FAIL upstream 'a' tls: ..."} and, when there is a fix, a second
     * line {@code "     fix: ..."} indented under the message.
     */
    public List<String> lines() {
        List<String> out = new ArrayList<>(2);
        out.add(String.format("%-4s %s: %s", status.word(), subject, oneLine(message)));
        if (fix != null) {
            out.add("     fix: " + oneLine(fix));
        }
        return out;
    }

    // An exception message may carry line breaks; the output keeps one line per check.
    private static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " ");
    }
}
