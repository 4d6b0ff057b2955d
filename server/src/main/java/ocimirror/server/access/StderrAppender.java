package ocimirror.server.access;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Log lines on stderr, one stream for all of them (so their order holds), where access log lines
 * are written in batches: a write system call per request would cost a busy mirror more CPU than
 * some of its requests. Access lines are flushed within {@link #FLUSH_MILLIS} or when 64 KiB have
 * piled up (like nginx's {@code access_log ... buffer= flush=}); any other line flushes at once,
 * together with the access lines before it; a batch goes to {@code System.err} in one write.
 * Stopping the appender (Logback's context, at exit) flushes what is left; stderr stays open.
 */
public final class StderrAppender extends OutputStreamAppender<ILoggingEvent> {
    static final long FLUSH_MILLIS = 100;
    private static final int BUFFER_BYTES = 64 * 1024;

    private long flushMillis = FLUSH_MILLIS;
    private ScheduledExecutorService flusher;
    private ScheduledFuture<?> task;
    private volatile Muted muted;

    /** Lines of a thread group muted but those of one logger. */
    private record Muted(ThreadGroup group, String allowed) {
    }

    @Override
    public void start() {
        setImmediateFlush(false);
        setOutputStream(new BufferedOutputStream(new KeepOpen(System.err), BUFFER_BYTES));
        super.start();
        if (flusher == null) {
            flusher = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "log-flush");
                t.setDaemon(true);
                return t;
            });
        }
        task = flusher.scheduleWithFixedDelay(this::flush, flushMillis, flushMillis, TimeUnit.MILLISECONDS);
    }

    /** How long access lines may wait (a Logback property; tests lengthen it). */
    public void setFlushMillis(long millis) {
        this.flushMillis = millis;
    }

    /**
     * Lines logged by threads of {@code group} (and its subgroups), but those of the logger
     * {@code allowed}, are encoded as any other, then dropped: the warm-up's throw-away server
     * compiles the whole logging path this way without writing a line. Null: none muted.
     */
    public void mute(ThreadGroup group, String allowed) {
        this.muted = group == null ? null : new Muted(group, allowed);
    }

    @Override
    protected void append(ILoggingEvent event) {
        Muted m = muted;
        if (m != null && !event.getLoggerName().equals(m.allowed())) {
            ThreadGroup mine = Thread.currentThread().getThreadGroup();
            if (mine != null && (mine == m.group() || m.group().parentOf(mine))) {
                if (isStarted()) {
                    getEncoder().encode(event);
                }
                return;
            }
        }
        super.append(event);
        if (!AccessLog.LOGGER.equals(event.getLoggerName())) {
            flush();
        }
    }

    @Override
    public void stop() {
        if (task != null) {
            task.cancel(false);
        }
        flush();
        super.stop();
    }

    /** Writes out what is buffered. */
    void flush() {
        streamWriteLock.lock();
        try {
            OutputStream out = getOutputStream();
            if (out != null) {
                out.flush();
            }
        } catch (IOException e) {
            addError("flushing stderr", e);
        } finally {
            streamWriteLock.unlock();
        }
    }

    /** Stderr outlives the appender: closing the appender's stream only flushes it. */
    private static final class KeepOpen extends FilterOutputStream {
        KeepOpen(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
