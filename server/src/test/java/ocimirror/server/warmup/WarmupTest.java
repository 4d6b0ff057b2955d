package ocimirror.server.warmup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.MirrorServer;
import ocimirror.testing.TlsTrust;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The warm-up of a real server: not ready while it runs, ready after, no trace of its throw-away
 * server in the store, the data directory or the log; bounded by its limit.
 */
class WarmupTest {
    @TempDir
    Path dir;
    final ListAppender<ILoggingEvent> events = new ListAppender<>();
    final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

    @BeforeEach
    void capture() {
        events.start();
        root.addAppender(events);
    }

    @AfterEach
    void release() {
        root.detachAppender(events);
    }

    private MirrorConfig proxy(TlsConfig tls) {
        // A proxy like the ones in service; its upstream is never asked anything.
        return MirrorConfig.defaults()
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(dir.resolve("data"))
                .withRouting(List.of(UpstreamConfig.builder("up", "http://127.0.0.1:1").plainHttp(true)
                        .isDefault(true).build()), List.of("local"))
                .withTls(tls);
    }

    @Test
    void notReadyWhileWarmingUpThenReadyWithNothingLeftBehind() throws Exception {
        try (MirrorServer server = MirrorServer.start(proxy(TlsConfig.defaults()))) {
            HttpClient http = HttpClient.newBuilder()
                    .sslContext(TlsTrust.trusting(dir.resolve("data/pki/ca.crt"))).build();
            URI readyz = URI.create("https://127.0.0.1:" + server.localAddress().getPort() + "/readyz");
            assertEquals(200, get(http, readyz).statusCode());
            int before = events.list.size();

            CompletableFuture<Warmup.Report> done = server.warmUp(Duration.ofSeconds(20));
            HttpResponse<String> warming = get(http, readyz);
            assertEquals(503, warming.statusCode());
            assertEquals("not ready: warming up\n", warming.body());
            assertTrue(Files.isDirectory(dir.resolve("data/.warmup")), "the throw-away server works in <data>/.warmup");

            Warmup.Report report = done.get(90, TimeUnit.SECONDS);
            assertTrue(report.rounds() >= 1 && report.requests() >= 500, report.toString());
            assertEquals(200, get(http, readyz).statusCode());
            assertFalse(Files.exists(dir.resolve("data/.warmup")));
            try (Stream<Path> blobs = Files.walk(dir.resolve("data/blobs"))) {
                assertEquals(0, blobs.filter(Files::isRegularFile).count(), "the real store holds nothing of it");
            }
            // The throw-away server's lines take the whole logging path (so that it is compiled)
            // and the stderr appender drops them (StderrAppenderTest; ServeWarmupTest reads a real
            // process's stderr); the one summary line is the warm-up's own.
            List<ILoggingEvent> during = events.list.subList(before, events.list.size());
            assertTrue(during.stream().anyMatch(e -> e.getFormattedMessage().contains("path=/v2/warmup/")),
                    "the access log path ran");
            assertEquals(1, during.stream().filter(e -> e.getLoggerName().equals(Warmup.class.getName())
                    && e.getFormattedMessage().startsWith("warm-up done in ")).count());
        }
    }

    @Test
    void stopsAtItsLimit() throws Exception {
        try (MirrorServer server = MirrorServer.start(proxy(TlsConfig.off()))) {
            long start = System.nanoTime();
            Warmup.Report report = server.warmUp(Duration.ofMillis(200)).get(30, TimeUnit.SECONDS);
            assertFalse(report.settled(), "no JIT settles in 200 ms");
            assertTrue(Duration.ofNanos(System.nanoTime() - start).compareTo(Duration.ofSeconds(10)) < 0,
                    "the limit bounds it: " + report);
            assertFalse(Files.exists(dir.resolve("data/.warmup")));
            assertTrue(events.list.stream().anyMatch(e -> e.getFormattedMessage().contains("stopped at warmup.maxDuration")));
        }
    }

    @Test
    void aServerStoppedWhileWarmingUpStopsTheWarmUpFirst() throws Exception {
        MirrorServer server = MirrorServer.start(proxy(TlsConfig.off()));
        CompletableFuture<Warmup.Report> done = server.warmUp(Duration.ofSeconds(60));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!Files.exists(dir.resolve("data/.warmup/proxy")) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        server.close();
        assertTrue(done.isDone(), "close waited for the warm-up");
        assertFalse(done.get().settled());
        assertFalse(Files.exists(dir.resolve("data/.warmup")), "its files are gone with it");
        assertTrue(events.list.stream().noneMatch(e -> e.getFormattedMessage().contains("warm-up")),
                "a stopped warm-up is no failure: " + events.list);
    }

    private static HttpResponse<String> get(HttpClient http, URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
