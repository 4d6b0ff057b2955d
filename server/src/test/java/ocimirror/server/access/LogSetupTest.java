package ocimirror.server.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.util.Map;
import ocimirror.config.ObservabilityConfig.LogFormat;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogSetupTest {

    @Test
    void theEnvironmentWinsOverTheConfiguration() {
        assertEquals(LogFormat.TEXT, LogSetup.effective(LogFormat.TEXT, Map.of()));
        assertEquals(LogFormat.JSON, LogSetup.effective(LogFormat.JSON, Map.of(LogSetup.ENV, " ")));
        assertEquals(LogFormat.JSON, LogSetup.effective(LogFormat.TEXT, Map.of(LogSetup.ENV, "JSON")));
        assertEquals(LogFormat.TEXT, LogSetup.effective(LogFormat.JSON, Map.of(LogSetup.ENV, "text")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LogSetup.effective(LogFormat.TEXT, Map.of(LogSetup.ENV, "xml")));
        assertEquals("OCIMIRROR_LOG_FORMAT: unknown value 'xml' (expected text or json)", e.getMessage());
    }

    @Test
    @SuppressWarnings("unchecked")
    void jsonSwapsTheEncoderOfTheStderrAppender() {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        OutputStreamAppender<ILoggingEvent> stderr = (OutputStreamAppender<ILoggingEvent>) ctx
                .getLogger(Logger.ROOT_LOGGER_NAME).getAppender(LogSetup.APPENDER);
        Encoder<ILoggingEvent> text = stderr.getEncoder();
        try {
            assertFalse(LogSetup.apply(LogFormat.TEXT));
            assertEquals(text, stderr.getEncoder(), "text: the pattern encoder, untouched");
            assertTrue(LogSetup.apply(LogFormat.JSON));
            assertInstanceOf(JsonEncoder.class, stderr.getEncoder());
            assertTrue(stderr.isStarted());
        } finally {
            stderr.stop();
            stderr.setEncoder(text);
            stderr.start();
        }
    }
}
