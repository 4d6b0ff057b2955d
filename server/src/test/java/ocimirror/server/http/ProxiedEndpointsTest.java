package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.pullthrough.ScriptedUpstream;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.server.upstream.UpstreamClients;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry handler in front of the pull-through service, on an {@link EmbeddedChannel}, with
 * an upstream the test feeds byte by byte. Storage work runs inline, so every step is
 * deterministic: feed the upstream, run the channel's pending tasks, look at what was written.
 */
class ProxiedEndpointsTest {
    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ScriptedUpstream upstream = new ScriptedUpstream("up");
    Storage storage;
    PullThroughService pullThrough;
    EmbeddedChannel ch;

    @BeforeEach
    void open() throws IOException {
        storage = Storage.open(dir, clock);
        UpstreamConfig up = UpstreamConfig.builder("up", "http://up.test").plainHttp(true).aliases("up.test").build();
        RegistryService service = new RegistryService(storage.blobs(), storage.metadata(), clock,
                Harness.settings(true));
        pullThrough = new PullThroughService(storage.blobs(), storage.metadata(),
                UpstreamClients.of(Map.of("up", upstream)), Runnable::run, clock,
                new PullThroughService.Settings(false, Duration.ofSeconds(30), 4));
        ch = new EmbeddedChannel(new FlowControlHandler(), new RegistryHandler(service,
                new UpstreamRouter(List.of(up), List.of("local")), pullThrough, Runnable::run, new OciRouteParser(),
                new ErrorResponses()));
    }

    @AfterEach
    void close() {
        try {
            assertFalse(ch.finishAndReleaseAll());
        } finally {
            pullThrough.close();
            storage.close();
        }
    }

    @Test
    void manifestsOfAnNsRequestAreTheUpstreamsBytesAndEchoTheNamespace() {
        byte[] body = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
                + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
                .getBytes(StandardCharsets.UTF_8);
        Digest digest = upstream.manifest("team/app", "v1", MediaTypes.OCI_MANIFEST, body);

        Written r = send(Harness.request(HttpMethod.GET, "/v2/team/app/manifests/v1?ns=up.test"));
        assertEquals(200, r.head.status().code());
        assertEquals("up.test", r.head.headers().get("OCI-Namespace"));
        assertEquals(digest.toString(), r.head.headers().get("Docker-Content-Digest"));
        assertEquals(MediaTypes.OCI_MANIFEST, r.head.headers().get(HttpHeaderNames.CONTENT_TYPE));
        assertArrayEquals(body, r.body);
        assertTrue(r.last);

        Written missing = send(Harness.request(HttpMethod.GET, "/v2/team/app/manifests/nope?ns=up.test"));
        assertEquals(404, missing.head.status().code());
        assertEquals("up.test", missing.head.headers().get("OCI-Namespace"), "errors carry it too");
        assertTrue(new String(missing.body, StandardCharsets.UTF_8).contains("MANIFEST_UNKNOWN"));

        // The path-prefix form of the same repository: same cache key, no ns to echo.
        Written prefixed = send(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/manifests/v1"));
        assertEquals(200, prefixed.head.status().code());
        assertNull(prefixed.head.headers().get("OCI-Namespace"));
        assertEquals(2, upstream.manifestGets.get(), "one GET for v1, one for the missing tag");
    }

    @Test
    void aManifestReferenceThatCannotExistIsUnknownWithoutAskingTheUpstream() {
        for (String uri : List.of("/v2/team/app/manifests/.INVALID_MANIFEST_NAME?ns=up.test",
                "/v2/up.test/team/app/manifests/.INVALID_MANIFEST_NAME", "/v2/up.test/team/app/manifests/sha256:abc")) {
            Written get = send(Harness.request(HttpMethod.GET, uri));
            assertEquals(404, get.head.status().code(), uri);
            assertTrue(new String(get.body, StandardCharsets.UTF_8).contains("\"MANIFEST_UNKNOWN\""), uri);
            Written head = send(Harness.request(HttpMethod.HEAD, uri));
            assertEquals(404, head.head.status().code(), uri);
            assertEquals(0, head.body.length, uri);
        }
        HttpRequest put = Harness.request(HttpMethod.PUT, "/v2/up.test/team/app/manifests/.INVALID_MANIFEST_NAME");
        put.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        put.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
        Written pushed = send(put);
        assertEquals(400, pushed.head.status().code());
        assertTrue(new String(pushed.body, StandardCharsets.UTF_8).contains("\"TAG_INVALID\""));
        assertEquals(0, upstream.manifestGets.get(), "the upstream is never asked");
    }

    @Test
    void writesToAProxiedRepositoryAreRefusedNamingTheUpstream() {
        HttpRequest put = Harness.request(HttpMethod.PUT, "/v2/up.test/team/app/manifests/v1");
        put.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_MANIFEST);
        put.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
        for (HttpRequest refused : List.of(put,
                Harness.request(HttpMethod.POST, "/v2/up.test/team/app/blobs/uploads/"),
                Harness.request(HttpMethod.DELETE, "/v2/team/app/blobs/sha256:" + "0".repeat(64) + "?ns=up.test"))) {
            Written r = send(refused);
            assertEquals(405, r.head.status().code(), refused.method() + " " + refused.uri());
            String error = new String(r.body, StandardCharsets.UTF_8);
            assertTrue(error.contains("UNSUPPORTED") && error.contains("proxied from upstream 'up'"), error);
        }
        // A hosted namespace takes pushes.
        assertEquals(202, send(Harness.request(HttpMethod.POST, "/v2/local/app/blobs/uploads/")).head.status().code());
        assertEquals(0, upstream.manifestGets.get());
    }

    @Test
    void aDownloadingBlobStreamsAsItArrivesAndHoldsBackItsLastByteUntilVerified() throws Exception {
        byte[] body = random(10_000);
        Digest digest = Digest.sha256(body);
        ch.writeInbound(Harness.request(HttpMethod.GET, "/v2/team/app/blobs/" + digest + "?ns=up.test"),
                new DefaultLastHttpContent());
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        t.start(body.length);
        Written r = drain();
        assertEquals(200, r.head.status().code());
        assertEquals("10000", r.head.headers().get(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals("up.test", r.head.headers().get("OCI-Namespace"));
        assertEquals(0, r.body.length);

        t.send(Arrays.copyOf(body, 4000));
        Written part = drain();
        assertArrayEquals(Arrays.copyOf(body, 4000), part.body, "the first bytes reach the client at once");
        assertTrue(part.regions > 0, "plaintext: file regions");
        t.send(Arrays.copyOfRange(body, 4000, body.length));
        Written almost = drain();
        assertEquals(body.length - 4000 - 1, almost.body.length, "the last byte waits for the verdict");
        assertFalse(almost.last);
        t.complete();
        Written end = drain();
        assertEquals(1, end.body.length);
        assertEquals(body[body.length - 1], end.body[0]);
        assertTrue(end.last);

        // The connection is free for the next request, now a plain cache hit.
        Written again = send(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest));
        assertArrayEquals(body, again.body);
        assertEquals(1, upstream.blobFetches.get());
    }

    @Test
    void aBodyThatDoesNotMatchItsDigestCutsTheConnection() throws Exception {
        byte[] body = random(5_000);
        Digest digest = Digest.sha256(body);
        byte[] lie = body.clone();
        lie[100] ^= 1;
        ch.writeInbound(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest),
                new DefaultLastHttpContent());
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        t.start(body.length);
        assertEquals(200, drain().head.status().code());
        t.send(lie);
        Written r = drain();
        assertEquals(body.length - 1, r.body.length, "everything but the last byte, before the verdict");
        assertFalse(r.last);
        assertTrue(ch.isActive());
        t.complete(); // the digest check fails
        Written end = drain();
        assertEquals(0, end.body.length);
        assertFalse(end.last, "never a clean end of a wrong body");
        assertFalse(ch.isActive(), "the connection is cut");
        assertTrue(storage.blobs().stat(digest).isEmpty());
    }

    @Test
    void aClientThatLeavesMidStreamDoesNotStopTheDownload() throws Exception {
        byte[] body = random(8_000);
        Digest digest = Digest.sha256(body);
        ch.writeInbound(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest),
                new DefaultLastHttpContent());
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        t.start(body.length);
        t.send(Arrays.copyOf(body, 3000));
        assertEquals(3000, drain().body.length);
        ch.close();
        t.send(Arrays.copyOfRange(body, 3000, body.length));
        t.complete();
        drain();
        assertTrue(storage.blobs().stat(digest).isPresent(), "committed with nobody left to read it");
        assertTrue(storage.metadata().isBlobLinked(RepoName.of("up/team/app"), digest));
    }

    @Test
    void anIdleTimeoutClosesAStreamThatMadeNoProgressButNotARequestWaitingForTheUpstream() throws Exception {
        byte[] body = random(4_000);
        Digest digest = Digest.sha256(body);
        ch.writeInbound(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest),
                new DefaultLastHttpContent());
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        ch.pipeline().fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        assertTrue(ch.isActive(), "waiting for the upstream's answer is not idle");
        t.start(body.length);
        assertEquals(200, drain().head.status().code());
        ch.pipeline().fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        assertFalse(ch.isActive(), "a body that got no write through for the idle time");
        t.sendAll(body, 2);
        drain();
        assertTrue(storage.blobs().stat(digest).isPresent(), "the download finished all the same");
    }

    @Test
    void aRangeOfADownloadingBlobIsServedAsSoonAsItArrived() throws Exception {
        byte[] body = random(2_000);
        Digest digest = Digest.sha256(body);
        HttpRequest head = Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest);
        head.headers().set(HttpHeaderNames.RANGE, "bytes=0-99");
        ch.writeInbound(head, new DefaultLastHttpContent());
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        t.start(body.length);
        t.send(Arrays.copyOf(body, 60));
        Written first = drain();
        assertEquals(206, first.head.status().code());
        assertEquals("bytes 0-99/2000", first.head.headers().get(HttpHeaderNames.CONTENT_RANGE));
        assertEquals(60, first.body.length);
        t.send(Arrays.copyOfRange(body, 60, 1000));
        Written rest = drain();
        assertArrayEquals(Arrays.copyOfRange(body, 60, 100), rest.body);
        assertTrue(rest.last, "complete before the download is");

        // A range to the end of the blob: its last byte waits for the commit.
        HttpRequest tail = Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest);
        tail.headers().set(HttpHeaderNames.RANGE, "bytes=1900-");
        ch.writeInbound(tail, new DefaultLastHttpContent());
        t.send(Arrays.copyOfRange(body, 1000, body.length));
        Written tailPart = drain();
        assertEquals(206, tailPart.head.status().code());
        assertArrayEquals(Arrays.copyOfRange(body, 1900, 1999), tailPart.body);
        assertFalse(tailPart.last);
        t.complete();
        Written tailEnd = drain();
        assertArrayEquals(new byte[] {body[1999]}, tailEnd.body);
        assertTrue(tailEnd.last);
        assertEquals(1, upstream.blobFetches.get());
    }

    @Test
    void aBlobPulledThroughCanBeMountedIntoAHostedRepositoryByItsProxiedName() throws Exception {
        byte[] body = random(3_000);
        Digest digest = Digest.sha256(body);
        ch.writeInbound(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest),
                new DefaultLastHttpContent());
        upstream.nextTransfer().serve(body, 3);
        assertArrayEquals(body, drain().body);

        Written mounted = send(Harness.request(HttpMethod.POST, "/v2/local/copy/blobs/uploads/?mount=" + digest
                + "&from=up.test/team/app"));
        assertEquals(201, mounted.head.status().code());
        assertTrue(storage.metadata().isBlobLinked(RepoName.of("local/copy"), digest));
        assertEquals(1, upstream.blobFetches.get());
    }

    @Test
    void underTlsTheGrowingBodyIsSentInChunksReadFromTheFile() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine();
        engine.setUseClientMode(false);
        BlobBodiesTest.Capture capture = new BlobBodiesTest.Capture();
        RegistryService service = new RegistryService(storage.blobs(), storage.metadata(), clock,
                Harness.settings(true));
        UpstreamConfig up = UpstreamConfig.builder("up", "http://up.test").plainHttp(true).aliases("up.test").build();
        EmbeddedChannel tls = new EmbeddedChannel(new SslHandler(engine), capture, new FlowControlHandler(),
                new RegistryHandler(service, new UpstreamRouter(List.of(up), List.of()), pullThrough, Runnable::run,
                        new OciRouteParser(), new ErrorResponses()));
        byte[] body = random(200_000);
        Digest digest = Digest.sha256(body);
        tls.writeInbound(Harness.request(HttpMethod.GET, "/v2/up.test/team/app/blobs/" + digest),
                new DefaultLastHttpContent());
        ScriptedUpstream.Transfer t = upstream.nextTransfer();
        t.start(body.length);
        t.send(Arrays.copyOf(body, 150_000));
        t.send(Arrays.copyOfRange(body, 150_000, body.length));
        t.complete();
        for (int i = 0; i < 100; i++) {
            tls.runPendingTasks();
        }
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        int chunks = 0;
        for (Object part : capture.written) {
            assertFalse(part instanceof FileRegion, "no sendfile under TLS");
            if (part instanceof HttpContent c) {
                assertTrue(c.content().readableBytes() <= BlobBodies.TLS_CHUNK);
                received.writeBytes(ByteBufUtil.getBytes(c.content()));
                chunks++;
            }
        }
        assertTrue(capture.written.get(capture.written.size() - 1) instanceof LastHttpContent);
        assertArrayEquals(body, received.toByteArray());
        assertTrue(chunks >= 4, "several chunks: " + chunks);
        capture.written.forEach(ReferenceCountUtil::release);
        tls.finishAndReleaseAll();
    }

    // --- helpers ---

    /** What the handler wrote so far: the response head (if any), body bytes, whether it ended. */
    record Written(HttpResponse head, byte[] body, boolean last, int regions) {
    }

    private Written send(HttpRequest request) {
        ch.writeInbound(request, new DefaultLastHttpContent());
        return drain();
    }

    /** Runs pending tasks and collects everything written since the last call. */
    private Written drain() {
        for (int i = 0; i < 100; i++) {
            ch.runPendingTasks();
        }
        HttpResponse head = null;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean last = false;
        int regions = 0;
        Object part;
        while ((part = ch.readOutbound()) != null) {
            try {
                if (part instanceof HttpResponse r) {
                    head = r;
                }
                if (part instanceof HttpContent c) {
                    body.writeBytes(ByteBufUtil.getBytes(c.content()));
                    last |= part instanceof LastHttpContent;
                } else if (part instanceof FileRegion region) {
                    regions++;
                    WritableByteChannel out = Channels.newChannel(body);
                    while (region.transferred() < region.count()) {
                        region.transferTo(out, region.transferred());
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                ReferenceCountUtil.release(part);
            }
        }
        return new Written(head, body.toByteArray(), last, regions);
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }
}
