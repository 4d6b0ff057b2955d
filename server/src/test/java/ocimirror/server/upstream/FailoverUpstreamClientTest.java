package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import ocimirror.server.upstream.UpstreamException.Kind;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Which URL a request goes to, and what the caller and the sink see, with scripted per-URL clients. */
class FailoverUpstreamClientTest {
    static final RepoName REPO = RepoName.of("team/app");
    static final Reference TAG = Reference.parse("1");
    static final Digest DIGEST = Digest.sha256("x".getBytes(StandardCharsets.UTF_8));

    final MutableClock clock = new MutableClock(Instant.parse("2026-12-08T00:00:00Z"));
    final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void aFailingFirstUrlIsSkippedUntilItsBackOffHasPassed() throws Exception {
        Scripted a = new Scripted("a");
        Scripted b = new Scripted("b");
        FailoverUpstreamClient c = client(2, a, b);
        a.fail(Kind.UNREACHABLE);
        b.answer();
        assertEquals(200, c.getManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS).status());
        assertEquals(List.of("a", "b"), calls);
        assertTrue(c.backedOff(0));
        assertEquals(1, c.failures(0));

        calls.clear();
        b.answer();
        c.getManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS);
        assertEquals(List.of("b"), calls, "a backed-off URL is not tried while another answers");

        calls.clear();
        clock.advance(UrlBackoff.INITIAL);
        a.answer();
        c.getManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS);
        assertEquals(List.of("a"), calls, "the first URL is preferred again after its back-off");
        assertFalse(c.backedOff(0));
        assertEquals(List.of(2L, 2L), List.of(c.requests(0), c.requests(1)));
    }

    @Test
    void everyOutageKindFailsOverButAnAnswerDoesNot() throws Exception {
        for (Kind k : List.of(Kind.UNREACHABLE, Kind.TIMEOUT, Kind.UPSTREAM_ERROR, Kind.RATE_LIMITED)) {
            Scripted a = new Scripted("a");
            Scripted b = new Scripted("b");
            a.fail(k);
            b.answer();
            assertEquals(200, client(0, a, b).headManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS).status(),
                    k.name());
        }
        calls.clear();
        Scripted a = new Scripted("a");
        Scripted b = new Scripted("b");
        FailoverUpstreamClient c = client(2, a, b);
        a.fail(Kind.NOT_FOUND);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> c.getManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS));
        assertEquals(Kind.NOT_FOUND, ((UpstreamException) e.getCause()).kind());
        assertEquals(List.of("a"), calls, "a 404 is the answer, not an outage");
        assertFalse(c.backedOff(0));
    }

    @Test
    void movingToTheNextUrlIsTheRetryAndRetriesLeftStartOverAtTheFirst() throws Exception {
        Scripted a = new Scripted("a");
        Scripted b = new Scripted("b");
        a.fail(Kind.UPSTREAM_ERROR);
        b.fail(Kind.UPSTREAM_ERROR);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> client(0, a, b).getManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS));
        assertEquals(List.of("a", "b"), calls, "each URL once even with maxRetries 0");
        assertEquals(2, ((UpstreamException) e.getCause()).attempts());

        calls.clear();
        a.fail(Kind.UPSTREAM_ERROR);
        a.fail(Kind.UPSTREAM_ERROR);
        b.fail(Kind.UPSTREAM_ERROR);
        b.answer();
        assertEquals(200, client(3, a, b).getManifest(REPO, TAG, List.of()).get(5, TimeUnit.SECONDS).status());
        assertEquals(List.of("a", "b", "a", "b"), calls, "maxRetries 3: four attempts in all");
    }

    @Test
    void aBlobFromTheSecondUrlReachesTheSinkAndTheFirstsFailureDoesNot() throws Exception {
        Scripted a = new Scripted("a");
        Scripted b = new Scripted("b");
        a.fail(Kind.UNREACHABLE);
        b.answer();
        RecordingSink sink = new RecordingSink();
        assertEquals(4L, client(2, a, b).fetchBlob(REPO, DIGEST, sink).get(5, TimeUnit.SECONDS));
        assertEquals(List.of("start", "data", "complete"), sink.events());
        assertArrayEquals("blob".getBytes(StandardCharsets.UTF_8), sink.bytes());
    }

    @Test
    void whenEveryUrlFailsTheSinkHearsOfItOnce() throws Exception {
        Scripted a = new Scripted("a");
        Scripted b = new Scripted("b");
        a.fail(Kind.UNREACHABLE);
        b.fail(Kind.TIMEOUT);
        RecordingSink sink = new RecordingSink();
        CompletableFuture<Long> f = client(0, a, b).fetchBlob(REPO, DIGEST, sink);
        assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertEquals(List.of("error"), sink.events());
        assertEquals(Kind.TIMEOUT, ((UpstreamException) sink.failed.get()).kind());
    }

    @Test
    void aBodyThatBrokeOffIsNotFetchedAgainFromAnotherUrl() throws Exception {
        Scripted a = new Scripted("a");
        Scripted b = new Scripted("b");
        a.breakOff();
        b.answer();
        RecordingSink sink = new RecordingSink();
        CompletableFuture<Long> f = client(2, a, b).fetchBlob(REPO, DIGEST, sink);
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(UpstreamException.class, e.getCause());
        assertEquals(List.of("a"), calls);
        assertEquals(List.of("start", "data", "error"), sink.events());
    }

    @Test
    void cancellingTheRequestCancelsTheAttempt() {
        Scripted a = new Scripted("a");
        CompletableFuture<UpstreamManifest> pending = new CompletableFuture<>();
        a.outcomes.add(x -> pending);
        CompletableFuture<UpstreamManifest> f = client(2, a, new Scripted("b")).getManifest(REPO, TAG, List.of());
        f.cancel(false);
        assertTrue(pending.isCancelled());
        assertEquals(List.of("a"), calls);
    }

    FailoverUpstreamClient client(int maxRetries, Scripted... clients) {
        List<String> names = new ArrayList<>();
        for (Scripted s : clients) {
            names.add("https://" + s.name + ":443");
        }
        return new FailoverUpstreamClient("up", names, List.of(clients),
                new UrlBackoff(clients.length, clock, UrlBackoff.INITIAL, UrlBackoff.MAX), maxRetries, scheduler,
                (e, round) -> Duration.ofMillis(1));
    }

    /** One URL's client: each call takes the next scripted outcome. */
    final class Scripted implements UpstreamClient {
        final String name;
        final Deque<java.util.function.Function<BlobSink, CompletableFuture<?>>> outcomes = new ArrayDeque<>();

        Scripted(String name) {
            this.name = name;
        }

        void fail(Kind kind) {
            outcomes.add(sink -> {
                UpstreamException e = new UpstreamException(kind, name + " " + kind);
                if (sink != null) {
                    sink.onError(e); // as SinkGuard does
                }
                return CompletableFuture.failedFuture(e);
            });
        }

        void answer() {
            outcomes.add(sink -> {
                if (sink == null) {
                    return CompletableFuture.completedFuture(new UpstreamManifest(200, "application/json", null,
                            "{}".getBytes(StandardCharsets.UTF_8)));
                }
                sink.onStart(4);
                sink.onData(ByteBuffer.wrap("blob".getBytes(StandardCharsets.UTF_8)));
                sink.onComplete(4);
                return CompletableFuture.completedFuture(4L);
            });
        }

        void breakOff() {
            outcomes.add(sink -> {
                sink.onStart(4);
                sink.onData(ByteBuffer.wrap("bl".getBytes(StandardCharsets.UTF_8)));
                UpstreamException e = new UpstreamException(Kind.UPSTREAM_ERROR, "connection closed mid-body");
                sink.onError(e);
                return CompletableFuture.failedFuture(e);
            });
        }

        @SuppressWarnings("unchecked")
        private <T> CompletableFuture<T> next(BlobSink sink) {
            calls.add(name);
            return (CompletableFuture<T>) outcomes.remove().apply(sink);
        }

        @Override
        public String name() {
            return "up";
        }

        @Override
        public CompletableFuture<UpstreamManifest> getManifest(RepoName repo, Reference reference, List<String> accept) {
            return next(null);
        }

        @Override
        public CompletableFuture<UpstreamHead> headManifest(RepoName repo, Reference reference, List<String> accept) {
            return this.<UpstreamManifest>next(null).thenApply(m -> new UpstreamHead(m.status(), null, null, -1));
        }

        @Override
        public CompletableFuture<UpstreamListing> listTags(RepoName repo, int n, String last) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletableFuture<UpstreamListing> referrers(RepoName repo, Digest subject, String artifactType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletableFuture<Long> fetchBlob(RepoName repo, Digest digest, BlobSink sink) {
            return next(sink);
        }

        @Override
        public void close() {
        }
    }
}
