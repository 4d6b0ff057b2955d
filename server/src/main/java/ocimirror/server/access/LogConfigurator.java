package ocimirror.server.access;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.util.ContextInitializer;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.function.UnaryOperator;

/**
 * Logback's configuration, written in code and found by Logback as a service
 * ({@code META-INF/services/ch.qos.logback.classic.spi.Configurator}) instead of a
 * {@code logback.xml}: reading the XML (a SAX parser, Joran's model) took 0.15 s of
 * the CPU time from start to the first served request.
 *
 * <p>One line per event on stderr ({@link TextLineEncoder}), access lines written in batches ({@link StderrAppender};
 * container runtimes collect it; {@link LogSetup} may switch
 * the appender to JSON), Netty and RocksDB at WARN. Levels come from system properties or else
 * the environment: {@value #LOG_LEVEL} (default INFO) for everything, and
 * {@value #ACCESS_LOG_LEVEL} for the access log alone (OFF silences it, DEBUG adds scrapes and
 * probes; default: the general level). An unknown level name counts as INFO.
 *
 * <p>A {@code logback.configurationFile} system property still wins: this configurator then
 * steps aside and Logback reads that file.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_NORMAL_PRIORITY)
public final class LogConfigurator extends ContextAwareBase implements Configurator {
    static final String LOG_LEVEL = "OCIMIRROR_LOG_LEVEL";
    static final String ACCESS_LOG_LEVEL = "OCIMIRROR_ACCESS_LOG_LEVEL";

    private final UnaryOperator<String> settings;

    /** Reads levels from system properties, then the environment (as Logback's own lookups do). */
    public LogConfigurator() {
        this(name -> {
            String v = System.getProperty(name);
            return v != null ? v : System.getenv(name);
        });
    }

    /** @param settings looks a setting up by name; null when it is not set */
    LogConfigurator(UnaryOperator<String> settings) {
        this.settings = settings;
    }

    @Override
    public ExecutionStatus configure(LoggerContext ctx) {
        if (System.getProperty(ContextInitializer.CONFIG_FILE_PROPERTY) != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        TextLineEncoder encoder = new TextLineEncoder();
        encoder.setContext(ctx);
        encoder.start();
        // Access lines in batches, every other line at once: see StderrAppender.
        StderrAppender stderr = new StderrAppender();
        stderr.setContext(ctx);
        stderr.setName(LogSetup.APPENDER);
        stderr.setEncoder(encoder);
        stderr.start();
        Level level = level(LOG_LEVEL, Level.INFO);
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(level);
        root.addAppender(stderr);
        ctx.getLogger("io.netty").setLevel(Level.WARN);
        ctx.getLogger("org.rocksdb").setLevel(Level.WARN);
        ctx.getLogger(AccessLog.LOGGER).setLevel(level(ACCESS_LOG_LEVEL, level));
        ctx.putProperty(LogSetup.FIELDS_IN_MDC, "false"); // the text line shows no MDC
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    private Level level(String name, Level fallback) {
        String v = settings.apply(name);
        return v == null || v.isBlank() ? fallback : Level.toLevel(v.trim(), Level.INFO);
    }
}
