package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.Reference;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * What the pull-through service tells each request about the cache (the access log's {@code cache}
 * field and {@code ocimirror_cache_requests_total}), and that an upstream failure shared by several
 * waiting requests is logged once.
 */
class CacheResultsTest {
    private static final AcceptedTypes FULL = AcceptedTypes.parse(List.of(MediaTypes.DOCKER_MANIFEST + ", "
            + MediaTypes.DOCKER_MANIFEST_LIST + ", " + MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX));
    private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
            + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
            + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ScriptedUpstream upstream = new ScriptedUpstream("up");
    final UpstreamConfig config = UpstreamConfig.builder("up", "http://upstream.test").plainHttp(true)
            .tagTtl(Duration.ofMinutes(10)).build();
    final RepoTarget.Proxied target = ScriptedService.target(config);
    ScriptedService running;
    Storage storage;
    PullThroughService service;

    @BeforeEach
    void open() throws IOException {
        running = ScriptedService.open(dir, clock, upstream);
        storage = running.storage;
        service = running.service;
    }

    @AfterEach
    void close() throws InterruptedException {
        running.close();
    }

    /** A request's outcome: what the service told it, once the future completed. */
    private CacheResult manifest(String ref) throws Exception {
        List<CacheResult> told = new CopyOnWriteArrayList<>();
        try {
            service.manifest(target, Reference.parse(ref), FULL, told::add).get(5, TimeUnit.SECONDS);
        } catch (ExecutionException failed) {
            // the outcome is what is looked at
        }
        return last(told);
    }

    private static CacheResult last(List<CacheResult> told) {
        return told.isEmpty() ? null : told.get(told.size() - 1);
    }

    @Test
    void manifestsMissThenHitRevalidateAsHitsAndRememberA404() throws Exception {
        Digest digest = upstream.manifest("team/app", "1", MediaTypes.OCI_MANIFEST, MANIFEST);
        assertEquals(CacheResult.MISS, manifest("1"));
        assertEquals(CacheResult.HIT, manifest("1"));
        assertEquals(CacheResult.HIT, manifest(digest.toString()));
        clock.advance(Duration.ofMinutes(11));
        assertEquals(CacheResult.HIT, manifest("1"), "revalidated by a HEAD with the same digest");
        assertEquals(1, upstream.manifestGets.get());

        clock.advance(Duration.ofMinutes(11));
        upstream.failManifests(UpstreamException.Kind.UPSTREAM_ERROR);
        assertEquals(CacheResult.STALE, manifest("1"), "the upstream is out: the cached copy");

        upstream.failManifests(null);
        assertEquals(CacheResult.MISS, manifest("gone"));
        assertEquals(CacheResult.NEGATIVE, manifest("gone"));
    }

    @Test
    void requestsThatJoinAManifestFetchAreCoalescedAndAFailureIsLoggedOnceForAll() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(ManifestPuller.class);
        ListAppender<ILoggingEvent> warnings = new ListAppender<>();
        warnings.setContext(logger.getLoggerContext());
        warnings.start();
        logger.addAppender(warnings);
        try {
            upstream.manifest("team/app", "1", MediaTypes.OCI_MANIFEST, MANIFEST);
            upstream.failManifests(UpstreamException.Kind.UNAUTHORIZED);
            CompletableFuture<Void> gate = upstream.holdManifests();
            List<List<CacheResult>> told = new ArrayList<>();
            List<CompletableFuture<?>> requests = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                List<CacheResult> mine = new CopyOnWriteArrayList<>();
                told.add(mine);
                requests.add(service.manifest(target, Reference.parse("1"), FULL, mine::add));
            }
            gate.complete(null);
            for (CompletableFuture<?> r : requests) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> r.get(5, TimeUnit.SECONDS));
                assertTrue(e.getCause().getMessage().contains("refused the mirror's credentials"), e.getMessage());
            }
            assertEquals(List.of(CacheResult.MISS, CacheResult.COALESCED, CacheResult.COALESCED, CacheResult.COALESCED),
                    told.stream().map(CacheResultsTest::last).toList());
            List<ILoggingEvent> warned = warnings.list.stream().filter(e -> e.getLevel() == Level.WARN).toList();
            assertEquals(1, warned.size(), warned.toString());
            assertTrue(warned.get(0).getFormattedMessage().contains("upstream 'up': manifest team/app:1 failed"),
                    warned.get(0).getFormattedMessage());
        } finally {
            logger.detachAppender(warnings);
        }
    }

    @Test
    void blobsMissCoalesceHitAndAFailedDownloadIsLoggedOnce() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(BlobFetch.class);
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.setContext(logger.getLoggerContext());
        lines.start();
        logger.addAppender(lines);
        try {
            byte[] body = "a layer".getBytes(StandardCharsets.UTF_8);
            Digest digest = Digest.sha256(body);
            List<List<CacheResult>> told = new ArrayList<>();
            List<CompletableFuture<BlobSource>> requests = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                List<CacheResult> mine = new CopyOnWriteArrayList<>();
                told.add(mine);
                requests.add(service.blob(target, digest, mine::add));
            }
            assertEquals(List.of(CacheResult.MISS, CacheResult.COALESCED, CacheResult.COALESCED),
                    told.stream().map(CacheResultsTest::last).toList());
            upstream.nextTransfer().fail(new UpstreamException(UpstreamException.Kind.UPSTREAM_ERROR, "502 from up"));
            for (CompletableFuture<BlobSource> r : requests) {
                assertThrows(ExecutionException.class, () -> r.get(5, TimeUnit.SECONDS));
            }
            assertEquals(1, lines.list.stream().filter(e -> e.getFormattedMessage().startsWith("download of " + digest
                    + " abandoned")).count(), lines.list.toString());

            List<CacheResult> again = new CopyOnWriteArrayList<>();
            CompletableFuture<BlobSource> retry = service.blob(target, digest, again::add);
            assertEquals(List.of(CacheResult.MISS), again, "a failed download is not remembered: asked again");
            upstream.nextTransfer().serve(body, 1);
            retry.get(5, TimeUnit.SECONDS);
            awaitStored(digest);
            List<CacheResult> hit = new CopyOnWriteArrayList<>();
            service.blob(target, digest, hit::add).get(5, TimeUnit.SECONDS);
            assertEquals(List.of(CacheResult.HIT), hit);
        } finally {
            logger.detachAppender(lines);
        }
    }

    private void awaitStored(Digest digest) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (storage.blobs().stat(digest).isEmpty()) {
            assertTrue(System.nanoTime() < end, "not committed");
            Thread.sleep(10);
        }
    }
}
