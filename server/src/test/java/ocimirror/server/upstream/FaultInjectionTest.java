package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.FaultyUpstream.Full;
import ocimirror.server.upstream.FaultyUpstream.Hangup;
import ocimirror.server.upstream.FaultyUpstream.Partial;
import ocimirror.server.upstream.FaultyUpstream.Silent;
import ocimirror.server.upstream.UpstreamException.Kind;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Faults at a chosen byte, from an in-process fake: timeouts, truncation, retry only before the first byte. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FaultInjectionTest {

    private static final RepoName REPO = RepoName.of("lib/app");
    private final byte[] body = new byte[200_000];
    private final Digest digest;
    private EventLoopGroup group;

    FaultInjectionTest() {
        new Random(7).nextBytes(body);
        digest = Digest.sha256(body);
    }

    @BeforeAll
    void startLoop() {
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterAll
    void stopLoop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private NettyUpstreamClient client(FaultyUpstream fake, int maxRetries) {
        UpstreamConfig cfg = UpstreamConfig.builder("fake", fake.url()).plainHttp(true).maxRetries(maxRetries)
                .timeouts(new UpstreamConfig.Timeouts(Duration.ofSeconds(2), Duration.ofMillis(300), Duration.ofMillis(300)))
                .build();
        return new NettyUpstreamClient(cfg, Optional.empty(), group, Clock.systemUTC(),
                UpstreamClientOptions.defaults().withBackoff(Duration.ofMillis(5), Duration.ofMillis(20)));
    }

    private static UpstreamException failure(CompletableFuture<?> f) throws InterruptedException {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return assertInstanceOf(UpstreamException.class, e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("no outcome within 10 s", e);
        }
        throw new AssertionError("expected a failure");
    }

    @Test
    void noResponseWithinFirstByteTimeoutIsATimeoutAndNotRetried() throws Exception {
        try (FaultyUpstream fake = new FaultyUpstream(n -> new Silent()); NettyUpstreamClient c = client(fake, 2)) {
            RecordingSink sink = new RecordingSink();
            long t0 = System.nanoTime();
            UpstreamException e = failure(c.fetchBlob(REPO, digest, sink));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(Kind.TIMEOUT, e.kind(), e.getMessage());
            assertTrue(ms >= 250 && ms < 3000, "took " + ms + " ms");
            assertEquals(1, e.attempts());
            assertEquals(1, fake.connections.get());
            assertEquals(List.of("error"), sink.events());
            assertSame(e, sink.failed.getNow(null));
        }
    }

    @Test
    void bodyThatStallsIsAnIdleTimeoutAfterTheBytesThatCame() throws Exception {
        try (FaultyUpstream fake = new FaultyUpstream(n -> new Partial(body, 1000, true));
             NettyUpstreamClient c = client(fake, 2)) {
            RecordingSink sink = new RecordingSink();
            UpstreamException e = failure(c.fetchBlob(REPO, digest, sink));
            assertEquals(Kind.TIMEOUT, e.kind(), e.getMessage());
            assertEquals(List.of("start", "data", "error"), sink.shape());
            assertEquals(body.length, sink.declaredLength());
            assertArrayEquals(Arrays.copyOf(body, 1000), sink.bytes());
            assertEquals(1, fake.connections.get(), "no retry once bytes went to the sink");
        }
    }

    @Test
    void truncatedBodyNeverCompletesAndIsNotRetried() throws Exception {
        try (FaultyUpstream fake = new FaultyUpstream(n -> new Partial(body, body.length / 2, false));
             NettyUpstreamClient c = client(fake, 2)) {
            RecordingSink sink = new RecordingSink();
            UpstreamException e = failure(c.fetchBlob(REPO, digest, sink));
            assertEquals(Kind.UPSTREAM_ERROR, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("after " + body.length / 2 + " of " + body.length), e.getMessage());
            assertEquals(List.of("start", "data", "error"), sink.shape());
            assertArrayEquals(Arrays.copyOf(body, body.length / 2), sink.bytes());
            assertEquals(1, fake.connections.get());
        }
    }

    @Test
    void failureBeforeAnyByteIsRetriedOnAFreshConnection() throws Exception {
        try (FaultyUpstream fake = new FaultyUpstream(n -> n == 0 ? new Hangup() : new Full(body));
             NettyUpstreamClient c = client(fake, 2)) {
            RecordingSink sink = new RecordingSink();
            assertEquals(body.length, c.fetchBlob(REPO, digest, sink).get(10, TimeUnit.SECONDS));
            assertEquals(List.of("start", "data", "complete"), sink.shape());
            assertArrayEquals(body, sink.bytes());
            assertEquals(2, fake.connections.get());
            assertTrue(fake.requests.get(1).startsWith("GET /v2/lib/app/blobs/" + digest + " HTTP/1.1\r\n"),
                    fake.requests.get(1));
        }
    }

    @Test
    void hangupsExhaustTheRetries() throws Exception {
        try (FaultyUpstream fake = new FaultyUpstream(n -> new Hangup()); NettyUpstreamClient c = client(fake, 3)) {
            RecordingSink sink = new RecordingSink();
            UpstreamException e = failure(c.fetchBlob(REPO, digest, sink));
            assertEquals(Kind.UPSTREAM_ERROR, e.kind());
            assertEquals(4, e.attempts());
            assertEquals(4, fake.connections.get());
            assertEquals(List.of("error"), sink.events());
        }
    }

    @Test
    void busySinkStopsReadsFromTheSocket() throws Exception {
        long size = 256L * 1024 * 1024;
        CompletableFuture<Void> gate = new CompletableFuture<>();
        java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        BlobSink held = new BlobSink() {
            @Override
            public java.util.concurrent.CompletionStage<Void> onStart(long contentLength) {
                return CompletableFuture.completedFuture(null);
            }

            @Override
            public java.util.concurrent.CompletionStage<Void> onData(java.nio.ByteBuffer data) {
                received.addAndGet(data.remaining());
                return calls.getAndIncrement() == 0 ? gate : CompletableFuture.completedFuture(null);
            }

            @Override
            public void onComplete(long bytes) {
            }

            @Override
            public void onError(Throwable error) {
            }
        };
        try (FaultyUpstream fake = new FaultyUpstream(n -> new FaultyUpstream.Large(size));
             NettyUpstreamClient c = client(fake, 0)) {
            CompletableFuture<Long> f = c.fetchBlob(REPO, digest, held);
            Thread.sleep(200); // well past the idle timeout too: a held-back read is not the upstream's silence
            long written = fake.bodyBytesWritten.get();
            // Only the socket buffers and one read are in flight, not the blob.
            assertTrue(written < 32L * 1024 * 1024, "upstream wrote " + written + " bytes while the sink was busy");
            assertEquals(1, calls.get());
            Thread.sleep(400);
            assertEquals(written, fake.bodyBytesWritten.get(), "still reading while the sink is busy");
            gate.complete(null);
            assertEquals(size, f.get(30, TimeUnit.SECONDS));
            assertEquals(size, received.get());
        }
    }

    @Test
    void sinkFailureAbortsTheTransferWithTheSinksError() throws Exception {
        IllegalStateException diskFull = new IllegalStateException("disk full");
        try (FaultyUpstream fake = new FaultyUpstream(n -> new Full(body)); NettyUpstreamClient c = client(fake, 2)) {
            RecordingSink sink = new RecordingSink().failingWith(diskFull);
            CompletableFuture<Long> f = c.fetchBlob(REPO, digest, sink);
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> f.get(10, TimeUnit.SECONDS));
            assertSame(diskFull, e.getCause());
            assertSame(diskFull, sink.failed.get(1, TimeUnit.SECONDS));
            assertEquals(List.of("start", "data", "error"), sink.events());
            assertEquals(1, fake.connections.get());
        }
    }

    @Test
    void cancellingTheFetchAbortsItAndTellsTheSink() throws Exception {
        try (FaultyUpstream fake = new FaultyUpstream(n -> new Partial(body, 1000, true));
             NettyUpstreamClient c = client(fake, 0)) {
            RecordingSink sink = new RecordingSink();
            CompletableFuture<Long> f = c.fetchBlob(REPO, digest, sink);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (sink.dataCalls() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            f.cancel(true);
            Throwable t = sink.failed.get(2, TimeUnit.SECONDS);
            assertInstanceOf(java.util.concurrent.CancellationException.class, t);
            assertEquals(List.of("start", "data", "error"), sink.shape());
        }
    }
}
