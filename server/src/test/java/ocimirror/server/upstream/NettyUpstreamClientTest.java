package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.UpstreamException.Kind;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.Nginx;
import ocimirror.testing.Programs;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client against a real CNCF distribution registry with TLS from a test CA and htpasswd
 * Basic auth, images pushed by skopeo, and nginx in front for redirects to another host,
 * keep-alive, 5xx and 429.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NettyUpstreamClientTest {

    private static final List<String> OCI = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX);
    private static final RepoName SMALL_REPO = RepoName.of("team/app");
    private static final RepoName BIG_REPO = RepoName.of("big");
    private static final RegistryCredentials ALICE = new RegistryCredentials("alice", "secret-a");

    private Path tmp;
    private TestPki pki;
    private DockerRegistry registry;
    private Nginx nginx;
    private TinyImage small;
    private TinyImage big;
    private EventLoopGroup group;
    private String registryUrl;
    private String frontUrl;

    @BeforeAll
    void start(@TempDir Path tempDir) throws Exception {
        tmp = tempDir;
        Programs.require("openssl", "openssl");
        Path htpasswdExe = Programs.require("htpasswd", "apache2-utils");
        pki = TestPki.create(tmp.resolve("pki"));
        TestPki.Issued serverCert = pki.server("registry", "IP:127.0.0.1,DNS:localhost");
        TestPki.Issued localhostOnly = pki.server("blobstore", "DNS:localhost");
        Path htpasswd = tmp.resolve("htpasswd");
        Files.writeString(htpasswd, Programs.run(htpasswdExe.toString(), "-Bbn", "alice", "secret-a"));
        registry = DockerRegistry.start(tmp.resolve("registry"), serverCert,
                "htpasswd: { realm: upstream-a, path: " + htpasswd + " }\n");
        // skopeo reads the CA for the destination from a directory of *.crt
        Path certDir = tmp.resolve("certs");
        Files.createDirectories(certDir);
        Files.copy(pki.caCert(), certDir.resolve("ca.crt"));
        small = TinyImage.write(tmp.resolve("small"), "1.0", 2_000, 1);
        big = TinyImage.write(tmp.resolve("big"), "1", 3 * 1024 * 1024, 2);
        registry.push(small, SMALL_REPO + ":1.0", certDir, "alice:secret-a");
        registry.push(big, BIG_REPO + ":1", certDir, "alice:secret-a");
        nginx = Nginx.start(tmp.resolve("nginx"), registry, serverCert, localhostOnly);
        group = NettyUpstreamClient.newEventLoopGroup(2);
        registryUrl = "https://127.0.0.1:" + registry.port();
        frontUrl = "https://127.0.0.1:" + nginx.frontPort();
    }

    @AfterAll
    void stop() throws Exception {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (nginx != null) {
            nginx.close();
        }
        if (registry != null) {
            registry.close();
        }
    }

    private NettyUpstreamClient client(String url, boolean trustCa, Optional<RegistryCredentials> creds, int maxRetries,
                                       UpstreamClientOptions options) {
        UpstreamConfig cfg = UpstreamConfig.builder("a", url).caCert(trustCa ? pki.caCert() : null).maxRetries(maxRetries)
                .build();
        return new NettyUpstreamClient(cfg, creds, group, Clock.systemUTC(), options);
    }

    private NettyUpstreamClient client(String url) {
        return client(url, true, Optional.of(ALICE), 2, fastRetries());
    }

    private static UpstreamClientOptions fastRetries() {
        return UpstreamClientOptions.defaults().withBackoff(Duration.ofMillis(10), Duration.ofMillis(40));
    }

    private static <T> T ok(CompletableFuture<T> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    private static UpstreamException failure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return assertInstanceOf(UpstreamException.class, e.getCause());
        }
        throw new AssertionError("expected a failure");
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void manifestByTagAndByDigestIsExactlyWhatSkopeoPushed() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl)) {
            UpstreamManifest byTag = ok(c.getManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(200, byTag.status());
            assertEquals(MediaTypes.OCI_MANIFEST, byTag.contentType());
            assertEquals(small.manifestDigest(), byTag.dockerContentDigest());
            assertArrayEquals(small.manifest(), byTag.body());
            assertEquals(small.manifestDigest(), byTag.bodyDigest());

            UpstreamManifest byDigest = ok(c.getManifest(SMALL_REPO, Reference.parse(small.manifestDigest().toString()), OCI));
            assertArrayEquals(small.manifest(), byDigest.body());
            assertEquals(small.manifestDigest(), byDigest.dockerContentDigest());
        }
    }

    @Test
    void headReportsDigestMediaTypeAndLength() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl)) {
            UpstreamHead head = ok(c.headManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(200, head.status());
            assertEquals(small.manifestDigest(), head.digest());
            assertEquals(MediaTypes.OCI_MANIFEST, head.contentType());
            assertEquals(small.manifest().length, head.contentLength());
        }
    }

    @Test
    void acceptHeaderIsForwarded() throws Exception {
        // distribution refuses an OCI manifest to a client that accepts only Docker types
        try (NettyUpstreamClient c = client(registryUrl)) {
            UpstreamException e = failure(c.getManifest(SMALL_REPO, Reference.parse("1.0"),
                    List.of(MediaTypes.DOCKER_MANIFEST)));
            assertEquals(Kind.NOT_FOUND, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("MANIFEST_UNKNOWN"), e.getMessage());
        }
    }

    @Test
    void blobIsStreamedByteForByte() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl)) {
            RecordingSink sink = new RecordingSink();
            long n = ok(c.fetchBlob(SMALL_REPO, small.layerDigest(), sink));
            assertEquals(small.layer().length, n);
            assertEquals(List.of("start", "data", "complete"), sink.shape());
            assertEquals(small.layer().length, sink.declaredLength());
            assertEquals(small.layerDigest(), Digest.sha256(sink.bytes()));
            assertEquals(n, sink.completed.getNow(-1L));
        }
    }

    @Test
    void slowSinkHoldsBackTheDownloadOneChunkAtATime() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl)) {
            RecordingSink sink = new RecordingSink(300); // every stage completes 0.3 ms later, on another thread
            long n = ok(c.fetchBlob(BIG_REPO, big.layerDigest(), sink));
            assertEquals(big.layer().length, n);
            assertEquals(big.layerDigest(), Digest.sha256(sink.bytes()));
            assertEquals(1, sink.maxOutstanding(), "a second onData before the first stage completed");
            // While a stage is outstanding the client reads ahead up to READ_AHEAD (plus the read
            // that crossed it), then stops reading: the blob never piles up in memory.
            assertTrue(sink.largestPiece() <= Exchange.READ_AHEAD + (256 << 10),
                    "a piece of " + sink.largestPiece() + " bytes");
            assertTrue(sink.dataCalls() >= big.layer().length / (Exchange.READ_AHEAD + (256 << 10)),
                    "streamed in " + sink.dataCalls() + " pieces");
            // Batches of several reads are joined in direct memory: the body never passes through the heap.
            assertEquals(0, sink.heapPieces(), "pieces given as heap buffers");
        }
    }

    @Test
    void missingManifestAndBlobAreNotFound() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl)) {
            UpstreamException m = failure(c.getManifest(SMALL_REPO, Reference.parse("nope"), OCI));
            assertEquals(Kind.NOT_FOUND, m.kind());
            assertEquals(404, m.status());
            assertEquals(1, m.attempts());
            UpstreamException h = failure(c.headManifest(RepoName.of("no/such/repo"), Reference.parse("1"), OCI));
            assertEquals(Kind.NOT_FOUND, h.kind());

            RecordingSink sink = new RecordingSink();
            UpstreamException b = failure(c.fetchBlob(SMALL_REPO, Digest.sha256(new byte[] {1}), sink));
            assertEquals(Kind.NOT_FOUND, b.kind());
            assertTrue(b.getMessage().contains("BLOB_UNKNOWN"), b.getMessage());
            assertEquals(List.of("error"), sink.events());
        }
    }

    @Test
    void wrongOrMissingCredentialsAreUnauthorized() throws Exception {
        try (NettyUpstreamClient wrong = client(registryUrl, true, Optional.of(new RegistryCredentials("alice", "nope")),
                2, fastRetries());
             NettyUpstreamClient none = client(registryUrl, true, Optional.empty(), 2, fastRetries())) {
            UpstreamException e = failure(wrong.getManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(Kind.UNAUTHORIZED, e.kind(), e.getMessage());
            assertEquals(401, e.status());
            assertEquals(1, e.attempts());
            assertEquals(Kind.UNAUTHORIZED, failure(none.getManifest(SMALL_REPO, Reference.parse("1.0"), OCI)).kind());
        }
    }

    @Test
    void untrustedCaIsUnreachableWithTheTlsCauseAndNotRetried() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl, false, Optional.of(ALICE), 2, fastRetries())) {
            UpstreamException e = failure(c.getManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(Kind.UNREACHABLE, e.kind(), e.getMessage());
            assertTrue(hasCause(e, SSLException.class), "cause: " + e.getCause());
            assertTrue(e.getMessage().contains("TLS handshake"), e.getMessage());
            assertEquals(1, e.attempts());
        }
    }

    @Test
    void certificateMustNameTheHost() throws Exception {
        // The blob host's certificate names only "localhost": trusted CA, wrong name.
        try (NettyUpstreamClient c = client("https://127.0.0.1:" + nginx.blobsPort())) {
            UpstreamException e = failure(c.headManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(Kind.UNREACHABLE, e.kind(), e.getMessage());
            assertTrue(hasCause(e, SSLException.class), "cause: " + e.getCause());
        }
        try (NettyUpstreamClient c = client("https://localhost:" + nginx.blobsPort())) {
            // same server under its own name: TLS succeeds, then nginx has no such path
            assertEquals(Kind.NOT_FOUND, failure(c.headManifest(SMALL_REPO, Reference.parse("1.0"), OCI)).kind());
        }
    }

    @Test
    void connectionRefusedIsRetriedThenUnreachable() throws Exception {
        int closedPort = Programs.freePort();
        try (NettyUpstreamClient c = client("https://127.0.0.1:" + closedPort)) {
            long t0 = System.nanoTime();
            RecordingSink sink = new RecordingSink();
            UpstreamException e = failure(c.fetchBlob(SMALL_REPO, small.layerDigest(), sink));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(Kind.UNREACHABLE, e.kind(), e.getMessage());
            assertTrue(hasCause(e, ConnectException.class), "cause: " + e.getCause());
            assertEquals(3, e.attempts());
            assertTrue(ms < 2000, "took " + ms + " ms");
            assertEquals(List.of("error"), sink.events());
        }
    }

    @Test
    void unknownHostIsUnreachable() throws Exception {
        try (NettyUpstreamClient c = client("https://registry-a.invalid", true, Optional.of(ALICE), 1, fastRetries())) {
            UpstreamException e = failure(c.headManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(Kind.UNREACHABLE, e.kind(), e.getMessage());
            assertTrue(hasCause(e, java.net.UnknownHostException.class), "cause: " + e.getCause());
            assertEquals(2, e.attempts());
        }
    }

    @Test
    void redirectToAnotherHostIsFollowedWithoutTheAuthorizationHeader() throws Exception {
        try (NettyUpstreamClient c = client(frontUrl)) {
            RecordingSink sink = new RecordingSink();
            long n = ok(c.fetchBlob(SMALL_REPO, small.layerDigest(), sink));
            assertEquals(small.layer().length, n);
            assertEquals(small.layerDigest(), Digest.sha256(sink.bytes()));
        }
        String blobPath = "/v2/" + SMALL_REPO + "/blobs/" + small.layerDigest();
        List<String> log = nginx.log();
        List<String> front = log.stream().filter(l -> l.startsWith(nginx.frontPort() + " GET " + blobPath + " ")).toList();
        assertEquals(2, front.size(), String.join("\n", log));
        assertTrue(front.get(0).contains(" 401 ") && front.get(0).contains("auth=\"-\""), front.get(0));
        assertTrue(front.get(1).contains(" 307 ") && front.get(1).contains("auth=\"Basic "), front.get(1));
        List<String> blobs = log.stream().filter(l -> l.startsWith(nginx.blobsPort() + " GET /blob/" + small.layerDigest().hex()))
                .toList();
        assertEquals(1, blobs.size(), String.join("\n", log));
        assertTrue(blobs.get(0).contains(" 200 ") && blobs.get(0).contains("auth=\"-\""), blobs.get(0));
        assertTrue(blobs.get(0).contains("ua=\"ocimirror/"), blobs.get(0));
    }

    @Test
    void keepAliveConnectionIsReused() throws Exception {
        try (NettyUpstreamClient c = client(frontUrl)) {
            for (int i = 0; i < 3; i++) {
                ok(c.headManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            }
        }
        List<String> heads = nginx.log().stream()
                .filter(l -> l.startsWith(nginx.frontPort() + " HEAD /v2/" + SMALL_REPO + "/manifests/1.0 ")).toList();
        // the first is answered 401, then Basic is sent up front: 4 requests, one connection
        assertEquals(4, heads.size(), String.join("\n", heads));
        assertEquals(1, heads.stream().map(l -> l.replaceAll(".* conn=(\\d+) .*", "$1")).distinct().count(),
                String.join("\n", heads));
    }

    @Test
    void theRateLimitAnUpstreamReportsReachesTheMetricsThroughTheResponseListener() throws Exception {
        try (ocimirror.server.metrics.MirrorMetrics metrics = new ocimirror.server.metrics.MirrorMetrics()) {
            NettyUpstreamClient netty = client(frontUrl, true, Optional.of(ALICE), 2,
                    fastRetries().withResponseListener(metrics.rateLimitListener()));
            try (UpstreamClients clients = metrics.meter(UpstreamClients.of(java.util.Map.of("a", netty)))) {
                ocimirror.testing.PromText before = ocimirror.testing.PromText.parse(metrics.scrape());
                assertTrue(Double.isNaN(before.value("ocimirror_upstream_ratelimit_remaining", "upstream", "a")));
                UpstreamClient c = clients.get("a").orElseThrow();
                // By digest: other tests count the requests for the tag in nginx's log.
                Reference byDigest = Reference.parse(small.manifestDigest().toString());
                ok(c.headManifest(SMALL_REPO, byDigest, OCI));
                UpstreamManifest m = ok(c.getManifest(SMALL_REPO, byDigest, OCI));

                ocimirror.testing.PromText after = ocimirror.testing.PromText.parse(metrics.scrape());
                assertEquals(76, after.value("ocimirror_upstream_ratelimit_remaining", "upstream", "a"));
                assertEquals(100, after.value("ocimirror_upstream_ratelimit_limit", "upstream", "a"));
                assertEquals(1, after.value("ocimirror_upstream_requests_total", "upstream", "a", "op", "manifest_head",
                        "outcome", "ok"), "one logical request, its 401 round included");
                assertEquals(m.body().length, after.value("ocimirror_upstream_received_bytes_total", "upstream", "a"));
                assertEquals(1, after.value("ocimirror_upstream_request_duration_seconds_count", "upstream", "a",
                        "op", "manifest_get"));
            }
        }
    }

    @Test
    void tagsAndReferrersAreAskedWithTheMirrorsCredentialsAndMetered() throws Exception {
        try (ocimirror.server.metrics.MirrorMetrics metrics = new ocimirror.server.metrics.MirrorMetrics()) {
            NettyUpstreamClient netty = client(frontUrl, true, Optional.of(ALICE), 2, fastRetries());
            try (UpstreamClients clients = metrics.meter(UpstreamClients.of(java.util.Map.of("a", netty)))) {
                UpstreamClient c = clients.get("a").orElseThrow();
                UpstreamListing tags = ok(c.listTags(SMALL_REPO, 10, "0.9"));
                assertTrue(new String(tags.body(), java.nio.charset.StandardCharsets.UTF_8).contains("\"1.0\""),
                        tags::toString);
                // distribution 2.8 has no referrers API: a 404, which the pull-through answers from the referrers tag.
                UpstreamException e = failure(c.referrers(SMALL_REPO, small.manifestDigest(), "application/vnd.x+json"));
                assertEquals(Kind.NOT_FOUND, e.kind());

                ocimirror.testing.PromText after = ocimirror.testing.PromText.parse(metrics.scrape());
                assertEquals(1, after.value("ocimirror_upstream_requests_total", "upstream", "a", "op", "tags_list",
                        "outcome", "ok"));
                assertEquals(1, after.value("ocimirror_upstream_requests_total", "upstream", "a", "op", "referrers",
                        "outcome", "not_found"));
            }
        }
        List<String> log = nginx.log();
        assertTrue(log.stream().anyMatch(l -> l.contains(" GET /v2/" + SMALL_REPO + "/tags/list?n=10&last=0.9 200 ")
                && l.contains("auth=\"Basic ")), String.join("\n", log));
        assertTrue(log.stream().anyMatch(l -> l.contains(" GET /v2/" + SMALL_REPO + "/referrers/" + small.manifestDigest()
                + "?artifactType=application%2Fvnd.x%2Bjson 404 ")), String.join("\n", log));
    }

    @Test
    void serverErrorsAreRetriedWithBackoffThenReported() throws Exception {
        try (NettyUpstreamClient c = client(frontUrl)) {
            UpstreamException e = failure(c.getManifest(RepoName.of("flaky"), Reference.parse("1"), OCI));
            assertEquals(Kind.UPSTREAM_ERROR, e.kind());
            assertEquals(503, e.status());
            assertEquals(3, e.attempts());
            assertTrue(e.kind().isOutage());
        }
        // each attempt: 401 then the retry with Basic, except that Basic is remembered after the first
        long hits = nginx.log().stream().filter(l -> l.contains(" GET /v2/flaky/manifests/1 503 ")).count();
        assertEquals(3, hits);
    }

    @Test
    void longRetryAfterFailsAtOnceAsRateLimited() throws Exception {
        try (NettyUpstreamClient c = client(frontUrl)) {
            UpstreamException e = failure(c.getManifest(RepoName.of("limited"), Reference.parse("1"), OCI));
            assertEquals(Kind.RATE_LIMITED, e.kind());
            assertEquals(Optional.of(Duration.ofSeconds(120)), e.retryAfter());
            assertEquals(1, e.attempts());
        }
        assertEquals(1, nginx.log().stream().filter(l -> l.contains(" GET /v2/limited/manifests/1 429 ")).count());
    }

    @Test
    void shortRetryAfterIsWaitedOut() throws Exception {
        try (NettyUpstreamClient c = client(frontUrl, true, Optional.of(ALICE), 1, fastRetries())) {
            long t0 = System.nanoTime();
            UpstreamException e = failure(c.getManifest(RepoName.of("briefly-limited"), Reference.parse("1"), OCI));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(Kind.RATE_LIMITED, e.kind());
            assertEquals(2, e.attempts());
            assertTrue(ms >= 950, "retried after " + ms + " ms, before Retry-After: 1");
        }
    }

    @Test
    void redirectLoopsAndDowngradesAreRefused() throws Exception {
        try (NettyUpstreamClient c = client(frontUrl)) {
            UpstreamException loop = failure(c.getManifest(RepoName.of("loop"), Reference.parse("1"), OCI));
            assertEquals(Kind.PROTOCOL, loop.kind());
            assertTrue(loop.getMessage().contains("more than 5 redirects"), loop.getMessage());
            UpstreamException down = failure(c.getManifest(RepoName.of("downgrade"), Reference.parse("1"), OCI));
            assertEquals(Kind.PROTOCOL, down.kind());
            assertTrue(down.getMessage().contains("from HTTPS to plain http"), down.getMessage());
        }
        assertEquals(1 + NettyUpstreamClient.MAX_REDIRECTS,
                nginx.log().stream().filter(l -> l.contains(" GET /v2/loop/manifests/1 302 ")).count());
    }

    @Test
    void manifestOverTheLimitIsRefused() throws Exception {
        try (NettyUpstreamClient c = client(registryUrl, true, Optional.of(ALICE), 2,
                fastRetries().withMaxManifestBytes(100))) {
            UpstreamException e = failure(c.getManifest(SMALL_REPO, Reference.parse("1.0"), OCI));
            assertEquals(Kind.PROTOCOL, e.kind());
            assertTrue(e.getMessage().contains("limit of 100"), e.getMessage());
            assertNotNull(ok(c.headManifest(SMALL_REPO, Reference.parse("1.0"), OCI)).digest());
        }
    }
}
