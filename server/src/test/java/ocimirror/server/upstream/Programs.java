package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Finding, running and stopping the real programs the tests use; everything on 127.0.0.1. */
final class Programs {

    private Programs() {
    }

    /** The program's path; skips the test when missing, but fails it under CI=true. */
    static Path require(String name, String debianPackage) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin"));
        for (String d : dirs) {
            if (!d.isEmpty()) {
                Path p = Path.of(d, name);
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        String msg = name + " is not installed (apt-get install -y " + debianPackage + ")";
        if ("true".equals(System.getenv("CI"))) {
            fail(msg);
        }
        Assumptions.abort(msg);
        return null;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Runs a command to completion, failing with its output when it exits non-zero. */
    static String run(Duration timeout, Map<String, String> env, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out;
        try {
            out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                fail(String.join(" ", cmd) + " did not finish within " + timeout);
            }
        } finally {
            p.destroyForcibly();
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            fail(String.join(" ", cmd) + " exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        return run(Duration.ofSeconds(60), Map.of(), cmd);
    }

    /** A long-running program, its output in {@code log}; {@link #close()} stops exactly this process. */
    static final class Daemon implements AutoCloseable {
        final Process process;
        final Path log;
        final String name;

        Daemon(String name, Path log, List<String> cmd) throws IOException {
            this.name = name;
            this.log = log;
            this.process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        }

        /** Waits until 127.0.0.1:port accepts connections. */
        Daemon awaitPort(int port, Duration timeout) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    fail(name + " exited " + process.exitValue() + ":\n" + logText());
                }
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return this;
                } catch (IOException notYet) {
                    Thread.sleep(50);
                }
            }
            fail(name + " did not listen on " + port + " within " + timeout + ":\n" + logText());
            return this;
        }

        String logText() throws IOException {
            return Files.exists(log) ? Files.readString(log) : "";
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }
}
