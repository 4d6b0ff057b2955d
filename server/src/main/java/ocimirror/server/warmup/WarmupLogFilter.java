package ocimirror.server.warmup;

import ch.qos.logback.classic.LoggerContext;
import ocimirror.server.access.LogSetup;
import ocimirror.server.access.StderrAppender;
import org.slf4j.LoggerFactory;

/**
 * Keeps the log lines of the warm-up's throw-away server off stderr: its start and stop lines and
 * one access line per request would read, in an operator's log, as if a second mirror had run.
 * Every thread that server starts is created, directly or by one of its threads, inside the
 * warm-up's thread group, which a thread keeps for life; the stderr appender drops what that group
 * logs, once encoded ({@link StderrAppender#mute}), except the warm-up's own summary.
 *
 * <p>Why at the appender and not with a turbo filter: the lines then take the whole logging path
 * a request's access line takes, so the JIT compiles it too (left out, it was compiled under the
 * first real load: PrintCompilation), and removing a turbo filter afterwards changed Logback's
 * hot path under the compiled code (callTurboFilters, AccessLog.log made not entrant).
 */
final class WarmupLogFilter {
    private final StderrAppender stderr;

    private WarmupLogFilter(StderrAppender stderr) {
        this.stderr = stderr;
    }

    /** Mutes {@code group} but {@code allowed} (a logger name) on stderr, when Logback writes there. */
    static WarmupLogFilter install(ThreadGroup group, String allowed) {
        StderrAppender stderr = LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx
                && ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender(LogSetup.APPENDER)
                instanceof StderrAppender a ? a : null;
        if (stderr != null) {
            stderr.mute(group, allowed);
        }
        return new WarmupLogFilter(stderr);
    }

    void remove() {
        if (stderr != null) {
            stderr.mute(null, null);
        }
    }
}
