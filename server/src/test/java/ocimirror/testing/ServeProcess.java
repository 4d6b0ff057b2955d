package ocimirror.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code ocimirror serve} in its own JVM from the test class path (as {@code ServeProcessTest}
 * does), so that a test can SIGTERM or SIGKILL it for real. Output goes to a log file; the port is
 * read from the start-up line.
 */
public final class ServeProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("serving on /127\\.0\\.0\\.1:(\\d+)");
    private static final Duration START_DEADLINE = Duration.ofSeconds(30);

    private final Process process;
    private final Path log;
    private final int port;

    private ServeProcess(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /**
     * Starts {@code serve --listen 127.0.0.1:0 --no-warmup ARGS} and waits until it listens. Without
     * a warm-up: each would spend seconds of CPU that the other tests running meanwhile need
     * ({@link #startWarmingUp} for the tests of the warm-up).
     */
    public static ServeProcess start(Path log, String... args) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of("--no-warmup"));
        all.addAll(List.of(args));
        return startWarmingUp(log, all.toArray(String[]::new));
    }

    /** Starts {@code serve --listen 127.0.0.1:0 ARGS} and waits until it listens. */
    public static ServeProcess startWarmingUp(Path log, String... args) throws IOException, InterruptedException {
        return startWarmingUp(log, Map.of(), args);
    }

    /** As {@link #start(Path, String...)}, with {@code env} added to the inherited environment. */
    public static ServeProcess start(Path log, Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of("--no-warmup"));
        all.addAll(List.of(args));
        return startWarmingUp(log, env, all.toArray(String[]::new));
    }

    private static ServeProcess startWarmingUp(Path log, Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                "ocimirror.server.cli.Main", "serve", "--listen", "127.0.0.1:0"));
        cmd.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(env);
        Process p = builder.start();
        long deadline = System.nanoTime() + START_DEADLINE.toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = LISTENING.matcher(Files.readString(log));
            if (m.find()) {
                return new ServeProcess(p, log, Integer.parseInt(m.group(1)));
            }
            if (!p.isAlive()) {
                break;
            }
            Thread.sleep(50);
        }
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError("serve did not start:\n" + Files.readString(log));
    }

    public int port() {
        return port;
    }

    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    /** SIGKILL: no shutdown hook, nothing flushed or closed. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            throw new AssertionError("serve survived SIGKILL");
        }
    }

    /** SIGTERM and wait for the clean stop. */
    public void stop() throws InterruptedException, IOException {
        process.destroy();
        if (!process.waitFor(40, TimeUnit.SECONDS)) {
            throw new AssertionError("serve did not stop after SIGTERM:\n" + Processes.tail(Files.readString(log)));
        }
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    /** Waits (bounded) until a file in {@code <data>/ingest} holds at least {@code bytes}. */
    public static void awaitIngest(Path data, long bytes, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (largestIngest(data) >= bytes) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no ingest file reached " + bytes + " bytes in " + timeout);
    }

    /** The size of the largest file in {@code <data>/ingest} (0 if none). */
    public static long largestIngest(Path data) throws IOException {
        Path ingest = data.resolve("ingest");
        if (!Files.isDirectory(ingest)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(ingest)) {
            return files.mapToLong(p -> p.toFile().length()).max().orElse(0);
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
