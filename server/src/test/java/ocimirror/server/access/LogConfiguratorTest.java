package ocimirror.server.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogConfiguratorTest {

    private static LoggerContext configured(Map<String, String> settings) {
        LoggerContext ctx = new LoggerContext();
        LogConfigurator configurator = new LogConfigurator(settings::get);
        configurator.setContext(ctx);
        assertEquals(Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY, configurator.configure(ctx));
        return ctx;
    }

    @Test
    void stderrLinesAtInfoWithNettyAndRocksDbAtWarn() {
        LoggerContext ctx = configured(Map.of());
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        assertEquals(Level.INFO, root.getLevel());
        StderrAppender stderr = assertInstanceOf(StderrAppender.class, root.getAppender(LogSetup.APPENDER));
        assertTrue(stderr.isStarted());
        assertInstanceOf(TextLineEncoder.class, stderr.getEncoder());
        assertEquals(Level.WARN, ctx.getLogger("io.netty").getLevel());
        assertEquals(Level.WARN, ctx.getLogger("org.rocksdb").getLevel());
        assertEquals(Level.INFO, ctx.getLogger(AccessLog.LOGGER).getEffectiveLevel());
        ctx.stop();
    }

    @Test
    void theAccessLogFollowsTheGeneralLevelUnlessItHasItsOwn() {
        LoggerContext debug = configured(Map.of(LogConfigurator.LOG_LEVEL, "debug"));
        assertEquals(Level.DEBUG, debug.getLogger(Logger.ROOT_LOGGER_NAME).getLevel());
        assertEquals(Level.DEBUG, debug.getLogger(AccessLog.LOGGER).getLevel());
        debug.stop();
        LoggerContext off = configured(Map.of(LogConfigurator.LOG_LEVEL, "WARN", LogConfigurator.ACCESS_LOG_LEVEL, "OFF"));
        assertEquals(Level.WARN, off.getLogger(Logger.ROOT_LOGGER_NAME).getLevel());
        assertEquals(Level.OFF, off.getLogger(AccessLog.LOGGER).getLevel());
        off.stop();
    }

    @Test
    void anUnknownLevelNameCountsAsInfo() {
        LoggerContext ctx = configured(Map.of(LogConfigurator.LOG_LEVEL, "loud"));
        assertEquals(Level.INFO, ctx.getLogger(Logger.ROOT_LOGGER_NAME).getLevel());
        ctx.stop();
    }

    @Test
    void logbackFindsItAsAService() {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        assertInstanceOf(StderrAppender.class, ctx.getLogger(Logger.ROOT_LOGGER_NAME).getAppender(LogSetup.APPENDER));
        assertEquals(Level.WARN, ctx.getLogger("io.netty").getLevel());
    }
}
