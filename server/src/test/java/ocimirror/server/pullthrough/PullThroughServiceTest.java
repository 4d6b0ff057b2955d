package ocimirror.server.pullthrough;

import static ocimirror.server.pullthrough.BlobDownloadTest.awaitTrue;
import static ocimirror.server.pullthrough.BlobDownloadTest.readToEnd;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.server.upstream.UpstreamClientOptions;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.storage.Storage;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.MutableClock;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.Skopeo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pull-through service against a real upstream (Debian's docker-registry, images pushed with
 * skopeo), with a clock the tests move: the upstream's access log shows what the mirror asked.
 * Each test has its own mirror storage; the upstream is shared, so counts are taken as deltas.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PullThroughServiceTest {
    private static final Duration TTL = Duration.ofMinutes(10);
    private static final AcceptedTypes FULL = AcceptedTypes.parse(List.of(MediaTypes.DOCKER_MANIFEST + ", "
            + MediaTypes.DOCKER_MANIFEST_LIST + ", " + MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX));
    private static final AcceptedTypes OCI_MANIFEST_ONLY = AcceptedTypes.parse(List.of(MediaTypes.OCI_MANIFEST));

    Path shared;
    DockerRegistry registry;
    Skopeo skopeo;
    OciLayoutBuilder.Image v1;
    OciLayoutBuilder.Image v2;
    OciLayoutBuilder.Image big;
    OciLayoutBuilder.ImageIndex multi;
    EventLoopGroup group;
    UpstreamConfig config;
    final HttpClient http = HttpClient.newHttpClient();
    final AtomicInteger syncs = new AtomicInteger();

    @TempDir
    Path dir;
    MutableClock clock;
    Storage storage;
    ExecutorService executor;
    UpstreamClients clients;
    PullThroughService service;

    @BeforeAll
    void upstream(@TempDir Path tmp) throws Exception {
        Programs.require("skopeo");
        shared = tmp;
        Path layout = tmp.resolve("layout");
        OciLayoutBuilder b = new OciLayoutBuilder(layout, 11);
        v1 = b.image("linux", "amd64", List.of(b.randomLayer("v1.bin", 4096)));
        v2 = b.image("linux", "amd64", List.of(b.randomLayer("v2.bin", 4096)));
        big = b.image("linux", "amd64", List.of(b.randomLayer("big.bin", 3 << 20)));
        multi = b.index(List.of(b.image("linux", "amd64", List.of(b.randomLayer("amd.bin", 1024))),
                b.image("linux", "arm64", List.of(b.randomLayer("arm.bin", 1024)))));
        b.tag("v1", v1.manifest());
        b.tag("v2", v2.manifest());
        b.tag("big", big.manifest());
        b.tag("multi", multi.index());
        b.finish();
        registry = DockerRegistry.start(tmp.resolve("registry"));
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        push(layout, "v1", "app:v1");
        push(layout, "v2", "app:v2");
        push(layout, "v1", "moving:latest");
        push(layout, "big", "big:1");
        skopeo.copy(Skopeo.oci(layout, "multi"), "docker://" + registry.hostPort() + "/multi:latest", "--all",
                "--preserve-digests");
        group = NettyUpstreamClient.newEventLoopGroup(2);
        config = UpstreamConfig.builder("up", registry.url()).plainHttp(true).tagTtl(TTL).maxRetries(0)
                .timeouts(new UpstreamConfig.Timeouts(Duration.ofSeconds(2), Duration.ofSeconds(5),
                        Duration.ofSeconds(5)))
                .build();
    }

    private void push(Path layout, String ref, String dest) {
        skopeo.copy(Skopeo.oci(layout, ref), "docker://" + registry.hostPort() + "/" + dest, "--preserve-digests");
    }

    @AfterAll
    void stopUpstream() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (registry != null) {
            registry.close();
        }
    }

    @BeforeEach
    void mirror() throws IOException {
        clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        storage = Storage.open(dir, clock);
        executor = Executors.newFixedThreadPool(4);
        clients = UpstreamClients.create(List.of(config), group, clock, UpstreamClientOptions.defaults());
        service = newService(false);
    }

    private PullThroughService newService(boolean prefetch) {
        return new PullThroughService(storage.blobs(), storage.metadata(), clients, executor, clock,
                new PullThroughService.Settings(prefetch, Duration.ofSeconds(30), 4));
    }

    @AfterEach
    void closeMirror() throws InterruptedException {
        service.close();
        clients.close();
        executor.shutdown();
        executor.awaitTermination(5, TimeUnit.SECONDS);
        storage.close();
    }

    @Test
    void anAcceptHeaderIsParsedOnceForTheWholeServer() {
        List<String> header = List.of(MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX);
        AcceptedTypes first = service.accepted(header);
        assertFalse(first.full());
        assertSame(first, service.accepted(List.of(new String(header.get(0)))), "kept by the service, not per connection");
    }

    @Test
    void aFreshTagIsServedWithoutAskingTheUpstreamAndIsByteIdentical() throws Exception {
        long gets = count("GET", "/v2/app/manifests/v1");
        ManifestContent first = get("app", "v1", FULL);
        HttpResponse<byte[]> direct = upstreamGet("/v2/app/manifests/v1");
        assertArrayEquals(direct.body(), Files.readAllBytes(first.blob().path()), "the upstream's bytes");
        assertEquals(direct.headers().firstValue("Docker-Content-Digest").orElseThrow(), first.digest().toString());
        assertEquals(MediaTypes.OCI_MANIFEST, first.mediaType());
        assertEquals(v1.manifest().digest(), first.digest().toString());

        long afterFirst = count("GET", "/v2/app/manifests/v1");
        assertEquals(gets + 2, afterFirst, "the mirror's GET and this test's own");
        long heads = count("HEAD", "/v2/app/manifests/v1");
        clock.advance(TTL.minusSeconds(1));
        assertEquals(first.digest(), get("app", "v1", FULL).digest());
        // A client accepting only OCI manifests is served the cached OCI manifest too.
        assertEquals(first.digest(), get("app", "v1", OCI_MANIFEST_ONLY).digest());
        assertEquals(afterFirst, count("GET", "/v2/app/manifests/v1"));
        assertEquals(heads, count("HEAD", "/v2/app/manifests/v1"));
        assertEquals(new PullThroughStats(0, 1, 0, 0, 0, 0, 0, 0), service.stats());
    }

    @Test
    void anExpiredTagWithTheSameDigestIsRevalidatedWithAHeadAlone() throws Exception {
        Digest digest = get("app", "v1", FULL).digest();
        long gets = count("GET", "/v2/app/manifests/v1");
        long heads = count("HEAD", "/v2/app/manifests/v1");
        clock.advance(TTL.plusSeconds(1));

        assertEquals(digest, get("app", "v1", FULL).digest());
        assertEquals(heads + 1, count("HEAD", "/v2/app/manifests/v1"));
        assertEquals(gets, count("GET", "/v2/app/manifests/v1"), "no GET when the digest did not change");
        // The HEAD renewed the record: within the next TTL nothing is asked.
        clock.advance(TTL.minusSeconds(5));
        assertEquals(digest, get("app", "v1", FULL).digest());
        assertEquals(heads + 1, count("HEAD", "/v2/app/manifests/v1"));
        assertEquals(1, service.stats().manifestHeads());
    }

    @Test
    void aTagThatMovedUpstreamIsFetchedAgain() throws Exception {
        push(shared.resolve("layout"), "v1", "moving:latest");
        assertEquals(v1.manifest().digest(), get("moving", "latest", FULL).digest().toString());
        push(shared.resolve("layout"), "v2", "moving:latest");
        assertEquals(v1.manifest().digest(), get("moving", "latest", FULL).digest().toString(), "still fresh");

        clock.advance(TTL.plusSeconds(1));
        ManifestContent moved = get("moving", "latest", FULL);
        assertEquals(v2.manifest().digest(), moved.digest().toString());
        assertArrayEquals(v2.manifest().bytes(), Files.readAllBytes(moved.blob().path()));
        assertEquals(v2.manifest().digest(), storage.metadata().getTag(target("moving").repo(), "latest")
                .orElseThrow().digest().toString());
    }

    @Test
    void anOutageServesTheStaleCopyAndCountsIt() throws Exception {
        Digest digest = get("app", "v1", FULL).digest();
        registry.stop();
        try {
            clock.advance(TTL.plusSeconds(1));
            assertEquals(digest, get("app", "v1", FULL).digest());
            assertEquals(1, service.stats().staleServed());
            long heads = service.stats().manifestHeads();
            // Right after an outage answer the upstream is not asked again...
            assertEquals(digest, get("app", "v1", FULL).digest());
            assertEquals(2, service.stats().staleServed());
            assertEquals(heads, service.stats().manifestHeads());
            // ...but a little later it is.
            clock.advance(Duration.ofSeconds(11));
            assertEquals(digest, get("app", "v1", FULL).digest());
            assertEquals(3, service.stats().staleServed());
            assertEquals(heads + 1, service.stats().manifestHeads());
            // By digest: stored, so no upstream needed either.
            assertEquals(digest, service.manifest(target("app"), new Reference.ByDigest(digest), FULL)
                    .get(5, TimeUnit.SECONDS).digest());
            // Not cached: a clear 503 naming the upstream.
            OciException e = failure(service.manifest(target("app"), new Reference.Tag("v2"), FULL));
            assertEquals(OciError.UNAVAILABLE, e.error());
            assertTrue(e.detail().contains("upstream 'up'") && e.detail().contains("not cached"), e.detail());
        } finally {
            registry.start();
        }
    }

    @Test
    void aManifestByDigestIsNeverRevalidated() throws Exception {
        Reference ref = new Reference.ByDigest(Digest.parse(v2.manifest().digest()));
        String path = "/v2/app/manifests/" + v2.manifest().digest();
        long gets = count("GET", path);
        ManifestContent first = service.manifest(target("app"), ref, FULL).get(5, TimeUnit.SECONDS);
        assertArrayEquals(v2.manifest().bytes(), Files.readAllBytes(first.blob().path()));
        assertEquals(gets + 1, count("GET", path));

        clock.advance(Duration.ofDays(400));
        assertEquals(first.digest(), service.manifest(target("app"), ref, FULL).get(5, TimeUnit.SECONDS).digest());
        assertEquals(gets + 1, count("GET", path));
        assertEquals(0, count("HEAD", path));
    }

    @Test
    void upstream404sAreRememberedUntilTheNegativeTtlPasses() throws Exception {
        String path = "/v2/app/manifests/nope";
        long gets = count("GET", path);
        assertEquals(OciError.MANIFEST_UNKNOWN, failure(service.manifest(target("app"),
                new Reference.Tag("nope"), FULL)).error());
        assertEquals(gets + 1, count("GET", path));

        clock.advance(Duration.ofSeconds(29));
        assertEquals(OciError.MANIFEST_UNKNOWN, failure(service.manifest(target("app"),
                new Reference.Tag("nope"), FULL)).error());
        assertEquals(gets + 1, count("GET", path), "answered from the negative cache");
        assertEquals(1, service.stats().negativeHits());

        clock.advance(Duration.ofSeconds(2));
        assertEquals(OciError.MANIFEST_UNKNOWN, failure(service.manifest(target("app"),
                new Reference.Tag("nope"), FULL)).error());
        assertEquals(gets + 2, count("GET", path), "asked again once the entry expired");
    }

    @Test
    void aClientThatDoesNotAcceptIndexesIsNeverGivenTheCachedIndex() throws Exception {
        ManifestContent index = get("multi", "latest", FULL);
        assertEquals(MediaTypes.OCI_INDEX, index.mediaType());
        assertEquals(multi.index().digest(), index.digest().toString());

        // distribution answers such a client 404 ("OCI index found, but accept header does not
        // support OCI indexes"): so does the mirror, instead of the index it has.
        OciException narrow = failure(service.manifest(target("multi"), new Reference.Tag("latest"),
                OCI_MANIFEST_ONLY));
        assertEquals(OciError.MANIFEST_UNKNOWN, narrow.error());
        // The narrow answer did not touch the tag record: a full client still gets the index.
        assertEquals(index.digest(), get("multi", "latest", FULL).digest());
        assertEquals(index.digest(), storage.metadata().getTag(target("multi").repo(), "latest").orElseThrow()
                .digest());
    }

    @Test
    void concurrentMissesShareOneUpstreamGet() throws Exception {
        long gets = count("GET", "/v2/app/manifests/v2");
        List<CompletableFuture<ManifestContent>> all = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            all.add(service.manifest(target("app"), new Reference.Tag("v2"), FULL));
        }
        for (CompletableFuture<ManifestContent> f : all) {
            assertEquals(v2.manifest().digest(), f.get(5, TimeUnit.SECONDS).digest().toString());
        }
        assertEquals(gets + 1, count("GET", "/v2/app/manifests/v2"));
        assertEquals(1, service.stats().manifestGets());
    }

    @Test
    void eightConcurrentBlobRequestsCauseOneUpstreamGet() throws Exception {
        OciLayoutBuilder.Blob layer = big.layers().get(0).blob();
        Digest digest = Digest.parse(layer.digest());
        long gets = registry.blobGets("big", layer.digest());
        List<CompletableFuture<byte[]>> bodies = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            bodies.add(service.blob(target("big"), digest).thenApplyAsync(source -> source instanceof
                    BlobSource.Downloading d ? readToEnd(d.fetch()) : read(((BlobSource.Stored) source))));
        }
        byte[] expected = layer.bytes();
        for (CompletableFuture<byte[]> body : bodies) {
            assertArrayEquals(expected, body.get(20, TimeUnit.SECONDS));
        }
        sync();
        assertEquals(gets + 1, registry.blobGets("big", layer.digest()));
        assertTrue(storage.blobs().stat(digest).isPresent());
    }

    @Test
    void anImageManifestPrefetchesItsConfigAndLayers() throws Exception {
        service.close();
        service = newService(true);
        OciLayoutBuilder.Blob layer = v2.layers().get(0).blob();
        Digest config = Digest.parse(v2.config().digest());
        Digest layerDigest = Digest.parse(layer.digest());
        long layerGets = registry.blobGets("app", layer.digest());

        get("app", "v2", FULL);
        awaitTrue(() -> storage.blobs().stat(config).isPresent() && storage.blobs().stat(layerDigest).isPresent(),
                "config and layer prefetched");
        assertEquals(2, service.stats().prefetches());
        BlobSource hit = service.blob(target("app"), layerDigest).get(5, TimeUnit.SECONDS);
        assertInstanceOf(BlobSource.Stored.class, hit);
        assertEquals(layerGets + 1, count("GET", "/v2/app/blobs/" + layer.digest()));
        assertEquals(2, service.stats().blobFetches(), "config and layer: two downloads, no third");
    }

    // --- helpers ---

    /**
     * With a metadata store whose reads may block (PostgreSQL), the calling thread (an event loop
     * in the server) makes none of them: the request starts on the storage executor.
     */
    @Test
    void withAStoreThatMayBlockNoLookupIsMadeOnTheCallingThread() throws Exception {
        Thread caller = Thread.currentThread();
        java.util.List<String> onCaller = new java.util.concurrent.CopyOnWriteArrayList<>();
        MetadataStore real = storage.metadata();
        MetadataStore blocking = (MetadataStore) java.lang.reflect.Proxy.newProxyInstance(
                MetadataStore.class.getClassLoader(), new Class<?>[] {MetadataStore.class}, (p, m, args) -> {
                    if (m.getName().equals("mayBlock")) {
                        return true;
                    }
                    if (Thread.currentThread() == caller) {
                        onCaller.add(m.getName());
                    }
                    try {
                        return m.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        service.close();
        service = new PullThroughService(storage.blobs(), blocking, clients, executor, clock,
                new PullThroughService.Settings(false, Duration.ofSeconds(30), 4));
        for (int i = 0; i < 2; i++) { // a miss, then a hit
            assertEquals(v1.manifest().digest(), service.manifest(target("app"), new Reference.Tag("v1"), FULL)
                    .get(10, TimeUnit.SECONDS).digest().toString());
            Digest layer = Digest.parse(v1.layers().get(0).blob().digest());
            assertInstanceOf(BlobSource.class, service.blob(target("app"), layer).get(10, TimeUnit.SECONDS));
        }
        assertEquals(List.of(), onCaller, "metadata calls on the calling thread");
    }

    private RepoTarget.Proxied target(String repo) {
        return new RepoTarget.Proxied(config, RepoName.of(repo), RepoName.of("up/" + repo), null);
    }

    private ManifestContent get(String repo, String tag, AcceptedTypes accept) throws Exception {
        return service.manifest(target(repo), new Reference.Tag(tag), accept).get(10, TimeUnit.SECONDS);
    }

    private static OciException failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        return assertInstanceOf(OciException.class, e.getCause());
    }

    private static byte[] read(BlobSource.Stored s) {
        try {
            return Files.readAllBytes(s.blob().path());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpResponse<byte[]> upstreamGet(String path) throws IOException, InterruptedException {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(registry.url() + path))
                .header("Accept", String.join(", ", FULL.forward())).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        return r;
    }

    /** The upstream's count of {@code method path} requests, once everything before is logged. */
    private long count(String method, String path) throws IOException, InterruptedException {
        sync();
        return registry.requests(method, path);
    }

    /**
     * distribution logs a request after answering it: a request of our own that shows up in the
     * log marks the point where every earlier answer has been logged too.
     */
    private void sync() throws IOException, InterruptedException {
        String path = "/v2/sync/n" + syncs.incrementAndGet() + "/tags/list";
        http.send(HttpRequest.newBuilder(URI.create(registry.url() + path)).build(),
                HttpResponse.BodyHandlers.discarding());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (registry.requests("GET", path) == 0) {
            assertFalse(System.nanoTime() > deadline, "the upstream never logged " + path);
            Thread.sleep(5);
        }
    }
}
