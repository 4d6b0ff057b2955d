package ocimirror.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import javax.net.ssl.SSLSocket;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServerTest.RawConnection;
import ocimirror.server.MirrorServerTest.RawResponse;
import ocimirror.testing.PromText;
import ocimirror.testing.TlsTrust;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slow clients against the real server on 127.0.0.1, with short request head and body timeouts:
 * a trickled head or a stalled body is answered 408 and the connection closed within the bound;
 * an honest slow client is served.
 */
class MirrorServerSlowClientsTest {
    static final Duration HEAD = Duration.ofMillis(1500);
    static final Duration BODY = Duration.ofMillis(1000);
    /** Scheduling slack on a busy machine. */
    static final long SLACK_MS = 1500;

    @TempDir
    Path dir;
    MirrorServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    InetSocketAddress start(boolean tls) throws Exception {
        MirrorConfig config = new MirrorConfig(new MirrorConfig.Listen("127.0.0.1", 0), dir.resolve("data"),
                new MirrorConfig.Storage(true), new MirrorConfig.Limits(4 << 20, 8192, 1L << 30, 300, HEAD, BODY));
        server = MirrorServer.start(tls ? config : config.withTls(TlsConfig.off()));
        return server.localAddress();
    }

    /** Writes {@code s} one byte every {@code gapMs} on a thread of its own, until done or the connection fails. */
    static Thread trickle(RawConnection c, String s, long gapMs) {
        Thread t = new Thread(() -> {
            try {
                for (int i = 0; i < s.length(); i++) {
                    c.write(s.substring(i, i + 1));
                    Thread.sleep(gapMs);
                }
            } catch (IOException | InterruptedException e) {
                // the server closed the connection, or the test is over
            }
        }, "trickle");
        t.setDaemon(true);
        t.start();
        return t;
    }

    static final String LONG_HEAD = "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + "s".repeat(200) + "\r\n\r\n";

    /** Asserts a 408 arrives about {@code bound} after {@code t0}, then the end of the stream. */
    static void assertTimedOut(RawConnection c, long t0, Duration bound) throws IOException {
        RawResponse r = c.read();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(408, r.status(), r.bodyText());
        assertTrue(r.bodyText().contains("REQUEST_TIMEOUT"), r.bodyText());
        assertEquals("close", r.headers().get("connection"));
        assertTrue(ms >= bound.toMillis() - 100 && ms <= bound.toMillis() + SLACK_MS, "408 after " + ms + " ms");
        assertClosed(c);
    }

    /** The server closed the connection: the end of the stream, or a reset if the trickle kept writing after the close. */
    static void assertClosed(RawConnection c) throws IOException {
        try {
            assertTrue(c.atEof(), "the connection stays open after the 408");
        } catch (SocketException e) {
            assertTrue(String.valueOf(e.getMessage()).contains("reset"), e.toString());
        }
    }

    @Test
    void aHeadTrickledSlowerThanTheTimeoutGets408AndTheConnectionCloses() throws Exception {
        InetSocketAddress a = start(false);
        try (RawConnection c = new RawConnection(a)) {
            long t0 = System.nanoTime();
            Thread t = trickle(c, LONG_HEAD, 100);   // each byte well inside the idle timeout
            assertTimedOut(c, t0, HEAD);
            t.interrupt();
        }
        assertEquals(1, timeouts(a, "head"));
    }

    @Test
    void aConnectionThatSendsNothingIsClosedAtTheHeadTimeout() throws Exception {
        InetSocketAddress a = start(false);
        try (RawConnection c = new RawConnection(a)) {
            long t0 = System.nanoTime();
            assertClosed(c);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= HEAD.toMillis() - 100 && ms <= HEAD.toMillis() + SLACK_MS, "closed after " + ms + " ms");
        }
        assertEquals(1, timeouts(a, "accept"));
    }

    /** {@code ocimirror_http_request_timeouts_total{phase}} as {@code /metrics} says. */
    static double timeouts(InetSocketAddress a, String phase) throws IOException {
        try (RawConnection c = new RawConnection(a)) {
            c.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            RawResponse r = c.read();
            assertEquals(200, r.status());
            return PromText.parse(r.bodyText()).value("ocimirror_http_request_timeouts_total", "phase", phase);
        }
    }

    @Test
    void aHeadTrickledWithinTheTimeoutIsServed() throws Exception {
        InetSocketAddress a = start(false);
        String head = "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        try (RawConnection c = new RawConnection(a)) {
            // Six pieces 200 ms apart: done in 1 s, inside the 1.5 s bound.
            int piece = (head.length() + 5) / 6;
            for (int i = 0; i < head.length(); i += piece) {
                Thread.sleep(200);
                c.write(head.substring(i, Math.min(head.length(), i + piece)));
            }
            assertEquals(200, c.read().status());
            // An idle keep-alive longer than the head timeout is the idle timeout's business.
            Thread.sleep(HEAD.toMillis() + 300);
            c.write(head);
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void aStalledUploadBodyGets408AndLeavesNoIngestFile() throws Exception {
        InetSocketAddress a = start(false);
        try (RawConnection c = new RawConnection(a)) {
            c.write("POST /v2/it/app/blobs/uploads/?digest=sha256:" + "a".repeat(64) + " HTTP/1.1\r\n"
                    + "Host: x\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000));
            long t0 = System.nanoTime();
            // The reader-idle check may need a second period when reading paused early on.
            RawResponse r = c.read();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(408, r.status(), r.bodyText());
            assertTrue(ms >= BODY.toMillis() - 100 && ms <= 2 * BODY.toMillis() + SLACK_MS, "408 after " + ms + " ms");
            assertClosed(c);
        }
        assertEquals(1, timeouts(a, "body"));
        Path ingest = dir.resolve("data/ingest");
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (ingestFiles(ingest) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, ingestFiles(ingest), "the aborted upload's ingest file is left behind");
    }

    @Test
    void aStalledPatchKeepsItsSessionResumable() throws Exception {
        InetSocketAddress a = start(false);
        String location;
        try (RawConnection c = new RawConnection(a)) {
            c.write("POST /v2/it/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
            RawResponse r = c.read();
            assertEquals(202, r.status());
            location = r.headers().get("location");
            c.write("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(10));
            assertEquals(408, c.read().status());
            assertClosed(c);
        }
        try (RawConnection c = new RawConnection(a)) {
            c.write("GET " + location + " HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(204, c.read().status(), "the session is gone after a stalled PATCH");
        }
    }

    @Test
    void overTlsATrickledHeadGets408() throws Exception {
        InetSocketAddress a = start(true);
        var ssl = TlsTrust.trusting(dir.resolve("data/pki/ca.crt"));
        long t0 = System.nanoTime();
        SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket(a.getAddress(), a.getPort());
        try (RawConnection c = new RawConnection(s)) {
            s.startHandshake();
            Thread t = trickle(c, LONG_HEAD, 100);
            assertTimedOut(c, t0, HEAD);   // from accept: the handshake is inside the bound
            t.interrupt();
        }
    }

    @Test
    void aTlsHandshakeThatNeverCompletesIsCutWithinTheHeadTimeout() throws Exception {
        InetSocketAddress a = start(true);
        try (Socket s = new Socket(a.getAddress(), a.getPort())) {
            s.setSoTimeout(10_000);
            long t0 = System.nanoTime();
            s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01});   // the start of a ClientHello, no more
            int b = s.getInputStream().read();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(-1, b);
            // Well before the SslHandler's own 10 s handshake timeout.
            assertTrue(ms >= HEAD.toMillis() - 100 && ms <= HEAD.toMillis() + SLACK_MS, "closed after " + ms + " ms");
        }
    }

    private static long ingestFiles(Path ingest) throws IOException {
        if (!Files.isDirectory(ingest)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(ingest)) {
            return s.count();
        }
    }
}
