package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import ocimirror.testing.ServeProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} warms up by default (warmup.enabled): /readyz answers 503 until the warm-up is
 * over and 200 after, the process logs one line of it, and {@code --no-warmup} is ready at once.
 */
class ServeWarmupTest {
    @TempDir
    Path dir;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void serveIsNotReadyUntilItHasWarmedUp() throws Exception {
        Path config = Files.writeString(dir.resolve("c.yaml"), String.join("\n",
                "data: " + dir.resolve("data"),
                "tls: {mode: off}",
                "warmup: {maxDuration: 20s}",
                ""));
        try (ServeProcess serve = ServeProcess.startWarmingUp(dir.resolve("serve.log"), "--config", config.toString())) {
            URI readyz = URI.create("http://" + serve.hostPort() + "/readyz");
            HttpResponse<String> first = get(readyz);
            assertEquals(503, first.statusCode(), first.body());
            assertEquals("not ready: warming up\n", first.body());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (get(readyz).statusCode() != 200 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertEquals(200, get(readyz).statusCode(), serve.log());
            String log = serve.log();
            Matcher done = Pattern.compile("warm-up done in (\\d+) ms: (\\d+) requests").matcher(log);
            assertTrue(done.find(), log);
            assertEquals(1, count(log, "registry listening on"), "the throw-away server's lines are not logged: " + log);
            assertFalse(log.contains("/v2/warmup/"), "nor its access lines: " + log);
            assertFalse(Files.exists(dir.resolve("data/.warmup")));
        }
    }

    @Test
    void noWarmupIsReadyAtOnce() throws Exception {
        try (ServeProcess serve = ServeProcess.start(dir.resolve("serve.log"), "--plain-http", "--data",
                dir.resolve("data").toString())) {
            assertEquals(200, get(URI.create("http://" + serve.hostPort() + "/readyz")).statusCode());
            assertFalse(serve.log().contains("warm-up"), serve.log());
        }
    }

    private HttpResponse<String> get(URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
