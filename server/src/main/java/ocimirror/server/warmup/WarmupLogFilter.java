package ocimirror.server.warmup;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Drops the log events of the warm-up's throw-away servers: their start and stop lines, the
 * generated CA they announce and one access line per request would read, in an operator's log,
 * as if a second and a third mirror had run. Every thread those servers start is created, directly
 * or by one of their threads, inside the warm-up's thread group, which a thread keeps for life;
 * events from that group are denied, except those of {@code allowed} (the warm-up's own summary).
 * Installed for the warm-up's length only: a turbo filter is asked about every log call.
 */
final class WarmupLogFilter extends TurboFilter {
    private final ThreadGroup group;
    private final String allowed;
    private final LoggerContext context;

    private WarmupLogFilter(ThreadGroup group, String allowed, LoggerContext context) {
        this.group = group;
        this.allowed = allowed;
        this.context = context;
    }

    /** Installs the filter when Logback is the logging back end; a no-op otherwise. */
    static WarmupLogFilter install(ThreadGroup group, String allowed) {
        LoggerContext ctx = LoggerFactory.getILoggerFactory() instanceof LoggerContext c ? c : null;
        WarmupLogFilter f = new WarmupLogFilter(group, allowed, ctx);
        if (ctx != null) {
            f.start();
            ctx.addTurboFilter(f);
        }
        return f;
    }

    void remove() {
        if (context != null) {
            context.getTurboFilterList().remove(this);
            stop();
        }
    }

    @Override
    public FilterReply decide(Marker marker, ch.qos.logback.classic.Logger logger, Level level, String format,
                              Object[] params, Throwable t) {
        ThreadGroup g = Thread.currentThread().getThreadGroup();
        if (g != null && (g == group || group.parentOf(g)) && !logger.getName().equals(allowed)) {
            return FilterReply.DENY;
        }
        return FilterReply.NEUTRAL;
    }
}
