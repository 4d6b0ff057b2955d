package ocimirror.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the real programs tests drive: one-shot commands with a deadline
 * ({@link #run}) and long-lived daemons ({@link #start}) that are stopped by their PID.
 * Output always goes to files, never to pipes, so a chatty program cannot block on a full
 * pipe, and the files are there to read when a test fails.
 */
public final class Processes {

    /** Grace period between SIGTERM and SIGKILL. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);

    private final Path logDir;
    private final AtomicInteger sequence = new AtomicInteger();

    /** @param logDir where each command's stdout and stderr files go */
    public Processes(Path logDir) {
        this.logDir = logDir;
        try {
            Files.createDirectories(logDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What a finished command left behind. */
    public record Result(List<String> command, int exitCode, Path stdoutFile, String stderr) {

        public byte[] stdoutBytes() {
            try {
                return Files.readAllBytes(stdoutFile);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public String stdout() {
            return new String(stdoutBytes(), StandardCharsets.UTF_8);
        }

        /** Throws with the command and its stderr unless the exit code was 0. */
        public Result requireSuccess() {
            if (exitCode != 0) {
                throw new AssertionError("command failed with exit code " + exitCode + ": "
                        + String.join(" ", command) + "\nstderr:\n" + tail(stderr) + "\nstdout:\n" + tail(stdout()));
            }
            return this;
        }
    }

    /**
     * Runs {@code command} to completion, killing it if it outlives {@code timeout}.
     *
     * @param env extra environment variables (added to a copy of this JVM's environment)
     */
    public Result run(List<String> command, Map<String, String> env, Duration timeout) {
        int n = sequence.incrementAndGet();
        String stem = String.format("%03d-%s", n, Path.of(command.get(0)).getFileName());
        Path out = logDir.resolve(stem + ".out");
        Path err = logDir.resolve(stem + ".err");
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile());
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                stop(p);
                throw new AssertionError("timed out after " + timeout + ": " + String.join(" ", command)
                        + "\nstderr:\n" + tail(read(err)));
            }
        } catch (InterruptedException e) {
            stop(p);
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        return new Result(command, p.exitValue(), out, read(err));
    }

    /**
     * Starts a daemon whose stdout and stderr both go to {@code name.log}. The caller owns the
     * returned handle and must close it (try-with-resources or {@code @AfterAll}).
     */
    public Daemon start(String name, List<String> command, Map<String, String> env) {
        Path log = logDir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        try {
            return new Daemon(name, pb.start(), log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
    }

    /** A long-lived program started by this test run; {@link #close()} stops it by PID. */
    public static final class Daemon implements AutoCloseable {
        private final String name;
        private final Process process;
        private final Path log;
        // Stops the daemon if the JVM exits without close() (e.g. surefire's timeout kills it).
        private final Thread shutdownHook;

        private Daemon(String name, Process process, Path log) {
            this.name = name;
            this.process = process;
            this.log = log;
            this.shutdownHook = new Thread(() -> stop(process), "stop-" + name);
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }

        public long pid() {
            return process.pid();
        }

        public Path log() {
            return log;
        }

        /**
         * Polls {@code ready} until it returns true, failing (with the log's tail) if the
         * program exits first or {@code deadline} passes. Exceptions from the probe count as
         * "not yet".
         */
        public void awaitReady(Duration deadline, Callable<Boolean> ready) {
            long end = System.nanoTime() + deadline.toNanos();
            Exception last = null;
            while (System.nanoTime() < end) {
                if (!process.isAlive()) {
                    throw new AssertionError(name + " exited with " + process.exitValue()
                            + " before it was ready; log:\n" + tail(read(log)));
                }
                try {
                    if (Boolean.TRUE.equals(ready.call())) {
                        return;
                    }
                } catch (Exception e) {
                    last = e;
                }
                sleep(100);
            }
            close();
            throw new AssertionError(name + " not ready after " + deadline + " (last probe error: " + last
                    + "); log:\n" + tail(read(log)));
        }

        /** Waits until 127.0.0.1:{@code port} accepts TCP connections. */
        public void awaitPort(int port, Duration deadline) {
            awaitReady(deadline, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return true;
                }
            });
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        /** Everything the daemon wrote so far. */
        public String logText() {
            return read(log);
        }

        @Override
        public void close() {
            stop(process);
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs anyway and finds the process gone
            }
        }
    }

    /** SIGTERM to the process (and any children it spawned), then SIGKILL after a grace period. */
    public static void stop(Process p) {
        List<ProcessHandle> children = p.descendants().toList();
        p.destroy();
        try {
            if (!p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        for (ProcessHandle child : children) {
            child.destroyForcibly();
        }
    }

    public static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    /**
     * Reads the log {@code file} until a line contains {@code marker} or {@code deadline} passes
     * (every 5 ms): servers write a request's log line after its answer went out, so a marker
     * request sent after the others shows when their lines are in. Returns the lines read last.
     */
    public static List<String> linesUntil(Path file, String marker, Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            List<String> lines = read(file).lines().toList();
            if (lines.stream().anyMatch(l -> l.contains(marker)) || System.nanoTime() > end) {
                return lines;
            }
            sleep(5);
        }
    }

    public static String tail(String s) {
        return s.length() <= 4000 ? s : "..." + s.substring(s.length() - 4000);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
