package ocimirror.server.access;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.util.Map;
import ocimirror.config.ObservabilityConfig.LogFormat;
import org.slf4j.LoggerFactory;

/**
 * Switches the log output between the text lines of {@link LogConfigurator} and JSON lines, chosen by
 * the environment's {@value #ENV} (which wins, so that a container image can set it without
 * touching the configuration) or the configuration's {@code log.format}.
 *
 * <p>JSON is Logback's own {@link JsonEncoder} (no further dependency): one object per line with
 * {@code timestamp} (epoch milliseconds), {@code level}, {@code threadName}, {@code loggerName},
 * {@code mdc} (the access log's fields, see {@link AccessLog}), {@code kvpList},
 * {@code formattedMessage} and {@code throwable}.
 */
public final class LogSetup {
    public static final String ENV = "OCIMIRROR_LOG_FORMAT";
    /** The appender of {@link LogConfigurator} whose encoder is replaced. */
    public static final String APPENDER = "STDERR";
    /**
     * A property of the Logback context: {@code false} while the output is {@link LogConfigurator}'s
     * text pattern, which shows no MDC, so {@link AccessLog} need not fill it; absent (a custom
     * configuration file, which may show it) or {@code true} (JSON) otherwise.
     */
    public static final String FIELDS_IN_MDC = "ocimirror.accessFieldsInMdc";

    private LogSetup() {
    }

    /**
     * The format to use: {@value #ENV} if set and not blank, else {@code configured}.
     *
     * @throws IllegalArgumentException if {@value #ENV} is neither text nor json
     */
    public static LogFormat effective(LogFormat configured, Map<String, String> env) {
        String v = env.get(ENV);
        if (v == null || v.isBlank()) {
            return configured;
        }
        return LogFormat.fromName(v, ENV);
    }

    /**
     * Gives the root logger's stderr appender the encoder for {@code format}. Text leaves
     * the pattern as it is. Does nothing when Logback is not the SLF4J backend
     * or the appender was configured away (a custom {@code logback.configurationFile}).
     *
     * @return whether the output was switched to JSON
     */
    public static boolean apply(LogFormat format) {
        if (format != LogFormat.JSON || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            return false;
        }
        Appender<ILoggingEvent> appender = ctx.getLogger(Logger.ROOT_LOGGER_NAME).getAppender(APPENDER);
        if (!(appender instanceof OutputStreamAppender<ILoggingEvent> out)) {
            return false;
        }
        out.stop();
        out.setEncoder(jsonEncoder(ctx));
        out.start();
        ctx.putProperty(FIELDS_IN_MDC, "true");
        return true;
    }

    /** Whether the access log's fields must be put in the MDC (see {@link #FIELDS_IN_MDC}). */
    static boolean accessFieldsInMdc() {
        return !(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)
                || !"false".equals(ctx.getProperty(FIELDS_IN_MDC));
    }

    /** Stops Logback (its appenders write out what they buffer); later lines are dropped. */
    public static void stop() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
            ctx.stop();
        }
    }

    /** The JSON encoder, started: one object per line, without the fields an operator never reads. */
    public static Encoder<ILoggingEvent> jsonEncoder(LoggerContext ctx) {
        JsonEncoder e = new JsonEncoder();
        e.setContext(ctx);
        e.setWithSequenceNumber(false);
        e.setWithNanoseconds(false);
        e.setWithContext(false);
        e.setWithArguments(false);
        e.setWithMessage(false); // the pattern with its {} placeholders; formattedMessage is the text
        e.setWithFormattedMessage(true);
        e.setWithMDC(true);
        e.setWithKVPList(true);
        e.start();
        return e;
    }
}
