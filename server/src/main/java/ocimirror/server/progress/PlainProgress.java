package ocimirror.server.progress;

import static java.util.Objects.requireNonNull;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress as plain lines, for output that is not a terminal (a log, CI):
 * {@code import: 123 MiB / 456 MiB (27%), 45 MiB/s, ETA 7s} at most once per interval, the
 * rate over the last interval, and a closing {@code import: 456 MiB in 12s (38 MiB/s)}.
 */
public final class PlainProgress implements Progress {
    private static final double MIB = 1024.0 * 1024.0;

    private final String task;
    private final PrintWriter out;
    private final long intervalNanos;
    private final LongSupplier nanoTime;
    private final long start;
    private long total = -1;
    private long done;
    private long lastLineAt;
    private long doneAtLastLine;
    private boolean closed;

    /** @param nanoTime the time source ({@code System::nanoTime}; tests move their own) */
    public PlainProgress(String task, PrintWriter out, Duration interval, LongSupplier nanoTime) {
        this.task = requireNonNull(task, "task");
        this.out = requireNonNull(out, "out");
        this.intervalNanos = requireNonNull(interval, "interval").toNanos();
        this.nanoTime = requireNonNull(nanoTime, "nanoTime");
        this.start = nanoTime.getAsLong();
        this.lastLineAt = start;
    }

    @Override
    public synchronized void total(long bytes) {
        total = bytes;
    }

    @Override
    public synchronized void advance(long bytes) {
        done += bytes;
        long now = nanoTime.getAsLong();
        if (!closed && now - lastLineAt >= intervalNanos) {
            out.println(line(now));
            out.flush();
            lastLineAt = now;
            doneAtLastLine = done;
        }
    }

    private String line(long now) {
        double seconds = Math.max(1e-9, (now - lastLineAt) / 1e9);
        double rate = (done - doneAtLastLine) / seconds;
        StringBuilder s = new StringBuilder(task).append(": ").append(size(done));
        if (total > 0) {
            long pct = Math.min(100, done * 100 / total);
            s.append(" / ").append(size(total)).append(" (").append(pct).append("%)");
        }
        s.append(", ").append(size((long) rate)).append("/s");
        if (total > 0 && rate > 0 && done < total) {
            s.append(", ETA ").append(duration((long) Math.ceil((total - done) / rate)));
        }
        return s.toString();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long elapsed = nanoTime.getAsLong() - start;
        double seconds = Math.max(1e-9, elapsed / 1e9);
        out.println(task + ": " + size(done) + " in " + duration(Math.round(seconds)) + " ("
                + size((long) (done / seconds)) + "/s)");
        out.flush();
    }

    /** {@code 512 B}, {@code 3.4 KiB}, {@code 123 MiB}, {@code 1.5 GiB}. */
    static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        if (bytes < 1024L * 1024 * 1024) {
            double mib = bytes / MIB;
            return mib < 10 ? String.format(Locale.ROOT, "%.1f MiB", mib) : Math.round(mib) + " MiB";
        }
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (MIB * 1024));
    }

    /** {@code 7s}, {@code 2m05s}, {@code 1h02m}. */
    static String duration(long seconds) {
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
    }
}
