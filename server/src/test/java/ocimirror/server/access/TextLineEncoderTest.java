package ocimirror.server.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.nio.charset.StandardCharsets;
import java.time.ZoneId;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The hand-written line against Logback's own pattern layout, which is the definition of the format. */
class TextLineEncoderTest {
    private final LoggerContext ctx = new LoggerContext();

    @AfterEach
    void stop() {
        ctx.stop();
    }

    private static final List<String> LOGGERS = List.of(AccessLog.LOGGER, "ocimirror.server.MirrorServer",
            "ocimirror.server.pullthrough.PullThroughService", "io.netty.handler.ssl.SslHandler", "root", "x");
    private static final List<String> MESSAGES = List.of("method=GET path=/v2/ status=200", "",
            "a message with unicode: é ü 日本 ✓", "tabs\tand \"quotes\" and a\nnew line", "{} not substituted");

    @Test
    void writesWhatThePatternLayoutWritesInEachZone() {
        for (String zone : List.of("UTC", "Europe/Paris", "America/St_Johns", "Asia/Kolkata")) {
            TextLineEncoder mine = started(new TextLineEncoder(ZoneId.of(zone)));
            PatternLayoutEncoder oracle = oracle(zone);
            Random random = new Random(zone.hashCode());
            // Timestamps around a second's edge, before 1970 and in a daylight-saving change, then random.
            long[] fixed = {0, 999, 1000, 1001, -1, -1001, 1_711_846_799_999L, 1_711_846_800_000L,
                1_730_000_000_123L};
            for (int i = 0; i < 2000; i++) {
                long millis = i < fixed.length ? fixed[i] : random.nextLong(4_000_000_000_000L) - 1_000_000_000_000L;
                LoggingEvent e = event(LOGGERS.get(i % LOGGERS.size()), List.of(Level.TRACE, Level.DEBUG, Level.INFO,
                        Level.WARN, Level.ERROR).get(i % 5), MESSAGES.get(i % MESSAGES.size()), millis, null);
                e.setThreadName(i % 3 == 0 ? "epoll-loop-0" : "ocimirror-storage-" + i);
                assertEquals(text(oracle.encode(e)), text(mine.encode(e)), "event " + i + " at " + millis + " in " + zone);
            }
            // Consecutive lines in the same second reuse its text: still right after the second changes.
            long t = 1_800_000_000_500L;
            for (long at : new long[] {t, t + 1, t + 499, t + 500, t + 501, t - 501}) {
                LoggingEvent e = event(AccessLog.LOGGER, Level.INFO, "m", at, null);
                assertEquals(text(oracle.encode(e)), text(mine.encode(e)));
            }
        }
    }

    @Test
    void aLineWithAThrowableCarriesItsStackTrace() {
        TextLineEncoder mine = started(new TextLineEncoder(ZoneId.of("UTC")));
        LoggingEvent e = event("ocimirror.server.MirrorServer", Level.ERROR, "failed", 1_800_000_000_000L,
                new IllegalStateException("broken"));
        String line = text(mine.encode(e));
        assertEquals(text(oracle("UTC").encode(e)), line);
        assertTrue(line.contains("java.lang.IllegalStateException: broken"), line);
        assertTrue(line.contains("\tat "), line);
    }

    private TextLineEncoder started(TextLineEncoder encoder) {
        encoder.setContext(ctx);
        encoder.start();
        return encoder;
    }

    private PatternLayoutEncoder oracle(String zone) {
        PatternLayoutEncoder e = new PatternLayoutEncoder();
        e.setContext(ctx);
        e.setPattern(TextLineEncoder.PATTERN.replace("SSSXXX}", "SSSXXX, " + zone + "}"));
        e.start();
        return e;
    }

    private LoggingEvent event(String logger, Level level, String message, long millis, Throwable thrown) {
        LoggingEvent e = new LoggingEvent(getClass().getName(), ctx.getLogger(logger), level, message, thrown, null);
        e.setTimeStamp(millis);
        return e;
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
