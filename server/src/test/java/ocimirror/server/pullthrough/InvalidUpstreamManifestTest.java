package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.registry.RegistryService.ManifestContent;
import ocimirror.server.route.RepoTarget;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream whose answer to a manifest request is not a manifest (a captive portal's page): the
 * service refuses it whatever the reference, stores nothing of it, and treats it as an outage.
 */
class InvalidUpstreamManifestTest {
    private static final AcceptedTypes FULL = AcceptedTypes.all();
    private static final byte[] HTML = "<!DOCTYPE html><html><body>Please sign in</body></html>\n"
            .getBytes(StandardCharsets.UTF_8);
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

    @Test
    void anHtmlPageForATagIsRefusedWith503NamingTheUpstreamAndNothingIsKept() throws Exception {
        Digest html = upstream.manifest("team/app", "latest", "text/html; charset=utf-8", HTML);
        OciException e = failure(service.manifest(target, Reference.parse("latest"), FULL));
        assertEquals(OciError.UNAVAILABLE, e.error());
        assertEquals("upstream 'up' answered the manifest request for team/app:latest with text/html, not a manifest",
                e.detail());
        assertNothingStored(html);
        assertEquals(1, service.invalidManifests("up"));
        assertEquals(1, service.stats().invalidManifests());

        // Not remembered: the next request asks again, and gets the manifest once there is one.
        failure(service.manifest(target, Reference.parse("latest"), FULL));
        assertEquals(2, upstream.manifestGets.get());
        assertEquals(2, service.invalidManifests("up"));
        Digest good = upstream.manifest("team/app", "latest", MediaTypes.OCI_MANIFEST, MANIFEST);
        assertEquals(good, service.manifest(target, Reference.parse("latest"), FULL).get(5, TimeUnit.SECONDS).digest());
        assertEquals(good, storage.metadata().getTag(target.repo(), "latest").orElseThrow().digest());
    }

    @Test
    void htmlLabelledAsAManifestIsRefusedByDigestTooThoughItMatchesTheDigest() throws Exception {
        Digest html = upstream.manifest("team/app", "latest", MediaTypes.OCI_MANIFEST, HTML);
        OciException e = failure(service.manifest(target, new Reference.ByDigest(html), FULL));
        assertEquals(OciError.UNAVAILABLE, e.error());
        assertEquals("upstream 'up' answered the manifest request for team/app@" + html + " with a body labelled "
                + MediaTypes.OCI_MANIFEST + " that is not JSON", e.detail());
        assertNothingStored(html);
        // A narrower client's answer is kept in memory only: not there either.
        AcceptedTypes narrow = AcceptedTypes.parse(List.of(MediaTypes.OCI_MANIFEST));
        failure(service.manifest(target, Reference.parse("latest"), narrow));
        assertEquals(2, upstream.manifestGets.get());
        failure(service.manifest(target, Reference.parse("latest"), narrow));
        assertEquals(3, upstream.manifestGets.get(), "asked again: nothing cached for the narrow client");
        assertEquals(3, service.invalidManifests("up"));
    }

    @Test
    void aCachedTagIsServedStaleWhenTheUpstreamStartsAnsweringHtml() throws Exception {
        Digest good = upstream.manifest("team/app", "latest", MediaTypes.OCI_MANIFEST, MANIFEST);
        assertEquals(good, service.manifest(target, Reference.parse("latest"), FULL).get(5, TimeUnit.SECONDS).digest());

        Digest html = upstream.manifest("team/app", "latest", "text/html", HTML);
        clock.advance(Duration.ofMinutes(11));
        List<CacheResult> told = new CopyOnWriteArrayList<>();
        ManifestContent served = service.manifest(target, Reference.parse("latest"), FULL, told::add)
                .get(5, TimeUnit.SECONDS);
        assertEquals(good, served.digest());
        assertEquals(MediaTypes.OCI_MANIFEST, served.mediaType());
        assertEquals(CacheResult.STALE, told.get(told.size() - 1));
        assertEquals(1, service.stats().staleServed());
        assertEquals(1, service.invalidManifests("up"));
        assertEquals(good, storage.metadata().getTag(target.repo(), "latest").orElseThrow().digest());
        assertNothingStored(html);
    }

    private void assertNothingStored(Digest digest) {
        assertTrue(storage.blobs().stat(digest).isEmpty(), "no blob");
        assertTrue(storage.metadata().getBlob(digest).isEmpty(), "no blob record");
        assertTrue(storage.metadata().getManifest(target.repo(), digest).isEmpty(), "no manifest record");
        storage.metadata().getTag(target.repo(), "latest")
                .ifPresent(t -> assertTrue(!t.digest().equals(digest), "no tag record for it"));
    }

    private static OciException failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        return assertInstanceOf(OciException.class, e.getCause());
    }
}
