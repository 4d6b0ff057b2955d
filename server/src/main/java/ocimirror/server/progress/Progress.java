package ocimirror.server.progress;

import java.io.PrintWriter;
import java.time.Duration;

/**
 * Progress of a long operation in bytes. Thread-safe: downloads running in parallel report to
 * one instance. {@link #close} prints the final line.
 */
public interface Progress extends AutoCloseable {

    /** Sets the number of bytes the whole operation will move (it may be learnt late, or grow). */
    void total(long bytes);

    /** Counts {@code bytes} more as done. */
    void advance(long bytes);

    @Override
    void close();

    /** Reports nothing. */
    static Progress none() {
        return new Progress() {
            @Override
            public void total(long bytes) {
            }

            @Override
            public void advance(long bytes) {
            }

            @Override
            public void close() {
            }
        };
    }

    /**
     * A progress bar with bytes, rate and ETA when the process has a terminal
     * ({@link System#console()} is not null), else a plain line on {@code plain} every
     * {@code interval}: logs and CI output stay readable.
     *
     * @param task the operation's name, first on every line ({@code import})
     */
    static Progress forConsole(String task, PrintWriter plain, Duration interval) {
        if (System.console() != null) {
            return new BarProgress(task);
        }
        return new PlainProgress(task, plain, interval, System::nanoTime);
    }
}
