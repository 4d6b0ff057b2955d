package ocimirror.server.access;

import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.pattern.Abbreviator;
import ch.qos.logback.classic.pattern.TargetLengthBasedClassNameAbbreviator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The built-in text line, {@value #PATTERN} as Logback's pattern layout writes it, written by hand:
 * the layout formatted every timestamp through {@link DateTimeFormatter} (its fraction through
 * {@code BigDecimal}) and built each line in three fresh strings, a third of the garbage of a
 * manifest GET, whose access line is most of what a busy mirror logs. Here the second's text is
 * kept from one line to the next and the line is built in a buffer of the writing thread: one
 * array per line, the bytes written out.
 *
 * <p>A line with a throwable (rare: errors) goes through the pattern layout, which appends the
 * stack trace as it always did. Thread-safe: Logback encodes outside the appender's lock.
 */
final class TextLineEncoder extends EncoderBase<ILoggingEvent> {
    /** What this encoder writes, as a Logback pattern (the layout that writes lines with a throwable). */
    static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{36} - %msg%n";
    private static final int LOGGER_LENGTH = 36;
    private static final int LEVEL_WIDTH = 5;
    private static final DateTimeFormatter SECOND = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss");
    private static final DateTimeFormatter OFFSET = DateTimeFormatter.ofPattern("XXX");
    private static final String LINE_END = System.lineSeparator();

    private final ZoneId zone;
    private final PatternLayoutEncoder withThrowable = new PatternLayoutEncoder();
    private final Abbreviator abbreviator = new TargetLengthBasedClassNameAbbreviator(LOGGER_LENGTH);
    private final Map<String, String> loggerNames = new ConcurrentHashMap<>();
    private final ThreadLocal<StringBuilder> lines = ThreadLocal.withInitial(() -> new StringBuilder(256));
    private volatile Second second = new Second(Long.MIN_VALUE, "", "");

    /** The text of one second: its date and time to the second, and the zone's offset then. */
    private record Second(long epochSecond, String dateTime, String offset) {
    }

    /** Timestamps in the JVM's default zone, as the pattern layout writes them. */
    TextLineEncoder() {
        this(ZoneId.systemDefault());
    }

    TextLineEncoder(ZoneId zone) {
        this.zone = zone;
    }

    @Override
    public void start() {
        withThrowable.setContext(getContext());
        withThrowable.setPattern(PATTERN.replace("SSSXXX}", "SSSXXX, " + zone.getId() + "}"));
        withThrowable.start();
        super.start();
    }

    @Override
    public void stop() {
        withThrowable.stop();
        super.stop();
    }

    @Override
    public byte[] headerBytes() {
        return null;
    }

    @Override
    public byte[] footerBytes() {
        return null;
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
        if (event.getThrowableProxy() != null) {
            return withThrowable.encode(event);
        }
        StringBuilder line = lines.get();
        line.setLength(0);
        timestamp(line, event.getTimeStamp());
        String level = event.getLevel().levelStr;
        line.append(' ').append(level);
        for (int i = level.length(); i < LEVEL_WIDTH; i++) {
            line.append(' ');
        }
        line.append(" [").append(event.getThreadName()).append("] ")
                .append(loggerNames.computeIfAbsent(event.getLoggerName(), abbreviator::abbreviate))
                .append(" - ").append(event.getFormattedMessage()).append(LINE_END);
        return bytes(line);
    }

    private void timestamp(StringBuilder out, long millis) {
        long epochSecond = Math.floorDiv(millis, 1000);
        Second s = second;
        if (s.epochSecond != epochSecond) {
            var at = Instant.ofEpochSecond(epochSecond).atZone(zone);
            s = new Second(epochSecond, SECOND.format(at), OFFSET.format(at));
            second = s;
        }
        int ms = (int) Math.floorMod(millis, 1000);
        out.append(s.dateTime).append('.').append((char) ('0' + ms / 100)).append((char) ('0' + ms / 10 % 10))
                .append((char) ('0' + ms % 10)).append(s.offset);
    }

    /** UTF-8 of {@code line}: copied byte for byte when it is ASCII, as access lines are. */
    private static byte[] bytes(StringBuilder line) {
        int n = line.length();
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            char c = line.charAt(i);
            if (c >= 0x80) {
                return line.toString().getBytes(StandardCharsets.UTF_8);
            }
            out[i] = (byte) c;
        }
        return out;
    }
}
