package ocimirror.server.access;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StderrAppenderTest {
    private final PrintStream realErr = System.err;
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
    private final LoggerContext ctx = new LoggerContext();
    private StderrAppender appender;

    @BeforeEach
    void start() {
        System.setErr(new PrintStream(captured, false, UTF_8));
        ctx.setMDCAdapter(new LogbackMDCAdapter());
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(ctx);
        encoder.setPattern("%logger %msg%n");
        encoder.start();
        appender = new StderrAppender();
        appender.setContext(ctx);
        appender.setEncoder(encoder);
        appender.setFlushMillis(3_600_000); // only what the test does flushes
        appender.start();
    }

    @AfterEach
    void restore() {
        appender.stop();
        System.setErr(realErr);
    }

    @Test
    void accessLinesWaitAndAnyOtherLineTakesThemAlongInOrder() {
        appender.doAppend(event(AccessLog.LOGGER, Level.INFO, "one"));
        appender.doAppend(event(AccessLog.LOGGER, Level.INFO, "two"));
        assertEquals("", text());

        appender.doAppend(event("ocimirror.server.MirrorServer", Level.INFO, "started"));
        assertEquals("ocimirror.access one\nocimirror.access two\nocimirror.server.MirrorServer started\n", text());
    }

    @Test
    void theFlushAndTheStopWriteOutWhatWaits() {
        appender.doAppend(event(AccessLog.LOGGER, Level.INFO, "one"));
        appender.flush();
        assertEquals("ocimirror.access one\n", text());
        appender.doAppend(event(AccessLog.LOGGER, Level.INFO, "two"));
        appender.stop();
        assertEquals("ocimirror.access one\nocimirror.access two\n", text());
    }

    @Test
    void aMutedThreadGroupsLinesAreDroppedButThoseOfTheAllowedLogger() throws Exception {
        ThreadGroup warmup = new ThreadGroup("warm-up");
        ThreadGroup inner = new ThreadGroup(warmup, "its server's loops");
        appender.mute(warmup, "ocimirror.server.warmup.Warmup");
        Thread t = new Thread(inner, () -> {
            appender.doAppend(event(AccessLog.LOGGER, Level.INFO, "GET /v2/warmup/image"));
            appender.doAppend(event("ocimirror.server.MirrorServer", Level.INFO, "registry listening"));
            appender.doAppend(event("ocimirror.server.warmup.Warmup", Level.INFO, "warm-up done"));
        });
        t.start();
        t.join();
        appender.doAppend(event(AccessLog.LOGGER, Level.INFO, "GET /v2/real"));
        appender.flush();
        assertEquals("ocimirror.server.warmup.Warmup warm-up done\nocimirror.access GET /v2/real\n", text());

        appender.mute(null, null);
        Thread after = new Thread(inner, () -> appender.doAppend(event("x", Level.INFO, "unmuted")));
        after.start();
        after.join();
        assertEquals("ocimirror.server.warmup.Warmup warm-up done\nocimirror.access GET /v2/real\nx unmuted\n", text());
    }

    private String text() {
        System.err.flush();
        return captured.toString(UTF_8);
    }

    private LoggingEvent event(String logger, Level level, String message) {
        LoggingEvent e = new LoggingEvent();
        e.setLoggerName(logger);
        e.setLevel(level);
        e.setMessage(message);
        e.setTimeStamp(System.currentTimeMillis());
        e.setLoggerContext(ctx);
        return e;
    }
}
