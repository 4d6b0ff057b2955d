package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} as its own process with JSON logs, chosen by the environment or by
 * {@code log.format}: every line on stderr is one JSON object, the access log's fields under
 * {@code mdc}; a bad {@code OCIMIRROR_LOG_FORMAT} is a usage error.
 */
class ServeLogFormatTest {
    private static final Pattern LISTENING = Pattern.compile("serving on /127\\.0\\.0\\.1:(\\d+)");
    private final JsonMapper json = new JsonMapper();

    @TempDir
    Path dir;
    private Process process;

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theEnvironmentSwitchesEveryLineToJson() throws Exception {
        Path log = dir.resolve("env.log");
        int port = start(log, Map.of("OCIMIRROR_LOG_FORMAT", "json"), "--plain-http");
        checkJsonAccessLine(log, port);
    }

    @Test
    void soDoesTheConfigurationFile() throws Exception {
        Path config = dir.resolve("mirror.yaml");
        Files.writeString(config, "tls: {mode: off}\nlog: {format: json}\n");
        Path log = dir.resolve("config.log");
        int port = start(log, Map.of(), "--config", config.toString());
        checkJsonAccessLine(log, port);
    }

    @Test
    void anUnknownFormatInTheEnvironmentIsAUsageError() throws Exception {
        Path log = dir.resolve("bad.log");
        process = command(log, Map.of("OCIMIRROR_LOG_FORMAT", "xml"), "--plain-http").start();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(Main.EXIT_CONFIG, process.exitValue());
        assertTrue(Files.readString(log).contains("ocimirror: OCIMIRROR_LOG_FORMAT: unknown value 'xml' (expected text"
                + " or json)"), Files.readString(log));
    }

    private void checkJsonAccessLine(Path log, int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/v2/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        String id = r.headers().firstValue("X-Request-Id").orElseThrow();
        JsonNode access = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (access == null && System.nanoTime() < deadline) {
            for (JsonNode line : lines(log)) {
                if (line.path("loggerName").asText().equals("ocimirror.access")) {
                    access = line;
                }
            }
            Thread.sleep(20);
        }
        assertTrue(access != null, Files.readString(log));
        JsonNode mdc = access.path("mdc");
        assertEquals("GET", mdc.path("method").asText());
        assertEquals("/v2/", mdc.path("path").asText());
        assertEquals("base", mdc.path("route").asText());
        assertEquals("200", mdc.path("status").asText());
        assertEquals(id, mdc.path("request_id").asText());
        assertEquals("INFO", access.path("level").asText());
        assertTrue(access.path("timestamp").asLong() > 0);
    }

    /** Every whole line of the log so far, each of which must be a JSON object. */
    private List<JsonNode> lines(Path log) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        String text = Files.readString(log);
        List<String> whole = List.of(text.split("\n", -1)).subList(0, Math.max(0, text.split("\n", -1).length - 1));
        for (String line : whole) {
            JsonNode node = json.readTree(line);
            assertTrue(node.isObject(), line);
            out.add(node);
        }
        return out;
    }

    private ProcessBuilder command(Path log, Map<String, String> env, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "serve", "--listen", "127.0.0.1:0", "--no-warmup", "--data", dir.resolve("data").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove("OCIMIRROR_LOG_FORMAT");
        pb.environment().putAll(env);
        return pb;
    }

    private int start(Path log, Map<String, String> env, String... args) throws Exception {
        process = command(log, env, args).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            for (JsonNode line : lines(log)) {
                Matcher m = LISTENING.matcher(line.path("formattedMessage").asText());
                if (m.find()) {
                    return Integer.parseInt(m.group(1));
                }
            }
            if (!process.isAlive()) {
                break;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("serve did not start:\n" + Files.readString(log));
    }
}
