package ocimirror.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * N clients GET one URL at the same moment, each with its own {@link HttpClient} and so its
 * own connection, hashing the body as it streams in (nothing is held in memory). A failure
 * mid-body (a cut connection, a short body) is reported, not thrown, so tests can assert on
 * exactly how a transfer ended.
 */
public final class ParallelGets {

    private ParallelGets() {
    }

    /**
     * How one client's request ended.
     *
     * @param status HTTP status, or -1 if no response head arrived
     * @param bytes  body bytes read before the end or the error
     * @param digest {@code sha256:...} of those bytes
     * @param error  what interrupted the transfer, or null for a clean end of the body
     */
    public record Outcome(int client, int status, long bytes, String digest, String error, Duration elapsed) {
    }

    /** Runs {@code clients} concurrent GETs of {@code uri}; waits at most {@code deadline} for all of them. */
    public static List<Outcome> run(URI uri, int clients, Duration deadline) throws InterruptedException {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Outcome>> futures = new ArrayList<>();
        try {
            for (int i = 0; i < clients; i++) {
                int n = i;
                futures.add(pool.submit(() -> {
                    start.await();
                    return get(n, uri);
                }));
            }
            start.countDown();
            long end = System.nanoTime() + deadline.toNanos();
            List<Outcome> outcomes = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                try {
                    outcomes.add(futures.get(i).get(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS));
                } catch (TimeoutException e) {
                    outcomes.add(new Outcome(i, -1, 0, null, "no end within " + deadline, deadline));
                } catch (java.util.concurrent.ExecutionException e) {
                    outcomes.add(new Outcome(i, -1, 0, null, e.getCause().toString(), Duration.ZERO));
                }
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    private static Outcome get(int client, URI uri) {
        long t0 = System.nanoTime();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        MessageDigest sha = sha256();
        int status = -1;
        long bytes = 0;
        String error = null;
        try {
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                    .GET().build(), HttpResponse.BodyHandlers.ofInputStream());
            status = r.statusCode();
            try (InputStream in = r.body()) {
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) >= 0; ) {
                    sha.update(buf, 0, n);
                    bytes += n;
                }
            }
        } catch (IOException e) {
            error = e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error = e.toString();
        }
        return new Outcome(client, status, bytes, "sha256:" + HexFormat.of().formatHex(sha.digest()), error,
                Duration.ofNanos(System.nanoTime() - t0));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
