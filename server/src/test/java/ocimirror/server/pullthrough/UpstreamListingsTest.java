package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tags/list and referrers of a proxied repository: the upstream's answer, kept for the tag TTL
 * (the clock moves, nothing sleeps), served stale while the upstream is out, paged by the mirror
 * when the upstream did not page, and the referrers tag for an upstream without the referrers API.
 */
class UpstreamListingsTest {
    private static final Duration TTL = Duration.ofMinutes(10);
    private static final Digest SUBJECT = Digest.sha256("subject".getBytes(StandardCharsets.UTF_8));
    private static final String SIG_TYPE = "application/vnd.example.signature.v1";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ScriptedUpstream upstream = new ScriptedUpstream("up");
    final UpstreamConfig config = UpstreamConfig.builder("up", "http://upstream.test").plainHttp(true)
            .tagTtl(TTL).build();
    final RepoTarget.Proxied target = ScriptedService.target(config);
    final List<CacheResult> told = new CopyOnWriteArrayList<>();
    ScriptedService running;
    PullThroughService service;

    @BeforeEach
    void open() throws IOException {
        running = ScriptedService.open(dir, clock, upstream);
        service = running.service;
    }

    @AfterEach
    void close() throws InterruptedException {
        running.close();
    }

    private TagPage tags(int n, String last) throws Exception {
        return service.tags(target, n, last, told::add).get(5, TimeUnit.SECONDS);
    }

    private String referrers(String artifactType) throws Exception {
        return new String(service.referrers(target, SUBJECT, artifactType, told::add).get(5, TimeUnit.SECONDS).index(),
                StandardCharsets.UTF_8);
    }

    private CacheResult lastTold() {
        return told.get(told.size() - 1);
    }

    @Test
    void tagsAreTheUpstreamsSortedAndPagedByTheMirrorWhenTheUpstreamIgnoresN() throws Exception {
        // distribution 2.8: every tag, unsorted, whatever n and last say.
        upstream.tags("team/app", "{\"name\":\"team/app\",\"tags\":[\"b\",\"c\",\"e\",\"a\",\"d\"]}", null);

        assertEquals(List.of("a", "b", "c", "d", "e"), tags(OciRoute.ALL, null).tags());
        TagPage first = tags(2, null);
        assertEquals(List.of("a", "b"), first.tags());
        assertEquals("b", first.nextLast());
        assertEquals(2, first.nextN());
        TagPage second = tags(2, "b");
        assertEquals(List.of("c", "d"), second.tags());
        TagPage third = tags(2, "d");
        assertEquals(List.of("e"), third.tags());
        assertFalse(third.more());
        assertEquals(List.of(), tags(0, null).tags());
    }

    @Test
    void anUpstreamsOwnNextPageIsPassedOn() throws Exception {
        upstream.tags("team/app", "{\"name\":\"team/app\",\"tags\":[\"a\",\"b\"]}",
                "</v2/team/app/tags/list?last=b&n=2>; rel=\"next\"");
        TagPage page = tags(2, null);
        assertEquals(List.of("a", "b"), page.tags());
        assertEquals("b", page.nextLast());
        assertEquals(2, page.nextN());
    }

    @Test
    void tagsAreAskedOncePerTtlAndServedStaleWhileTheUpstreamIsOut() throws Exception {
        upstream.tags("team/app", "{\"name\":\"team/app\",\"tags\":[\"v1\"]}", null);
        assertEquals(List.of("v1"), tags(OciRoute.ALL, null).tags());
        assertEquals(CacheResult.MISS, lastTold());
        assertEquals(1, upstream.listings.get());

        upstream.tags("team/app", "{\"name\":\"team/app\",\"tags\":[\"v1\",\"v2\"]}", null);
        clock.advance(TTL.minusSeconds(1));
        assertEquals(List.of("v1"), tags(OciRoute.ALL, null).tags(), "fresh: not asked again");
        assertEquals(CacheResult.HIT, lastTold());
        assertEquals(1, upstream.listings.get());

        clock.advance(Duration.ofSeconds(1));
        assertEquals(List.of("v1", "v2"), tags(OciRoute.ALL, null).tags(), "after the TTL: asked again");
        assertEquals(2, upstream.listings.get());

        upstream.failListings(UpstreamException.Kind.UNREACHABLE);
        clock.advance(TTL);
        long staleBefore = service.stats().staleServed();
        assertEquals(List.of("v1", "v2"), tags(OciRoute.ALL, null).tags());
        assertEquals(CacheResult.STALE, lastTold());
        assertEquals(staleBefore + 1, service.stats().staleServed());
        assertEquals(3, upstream.listings.get(), "it did ask");
    }

    @Test
    void withTheUpstreamOutAndNothingCachedTheClientIsToldWhichUpstream() {
        upstream.failListings(UpstreamException.Kind.UNREACHABLE);
        ExecutionException e = assertThrows(ExecutionException.class, () -> tags(OciRoute.ALL, null));
        OciException oci = assertInstanceOf(OciException.class, e.getCause());
        assertEquals(OciError.UNAVAILABLE, oci.error());
        assertTrue(oci.detail().contains("'up'"), oci.detail());
    }

    @Test
    void anUnknownRepositoryUpstreamIsNameUnknown() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> tags(OciRoute.ALL, null));
        assertEquals(OciError.NAME_UNKNOWN, assertInstanceOf(OciException.class, e.getCause()).error());
    }

    @Test
    void referrersComeFromTheUpstreamAndAreFilteredWhenItDidNotFilter() throws Exception {
        upstream.referrers("team/app", SUBJECT, index(descriptor("sha256:" + "1".repeat(64), SIG_TYPE),
                descriptor("sha256:" + "2".repeat(64), "application/spdx+json")));
        String all = referrers(null);
        assertTrue(all.contains("1111") && all.contains("2222"), all);
        String sigs = referrers(SIG_TYPE);
        assertTrue(sigs.contains("1111") && !sigs.contains("2222"), sigs);
        assertTrue(service.referrers(target, SUBJECT, SIG_TYPE, told::add).get().filtered());
    }

    @Test
    void anUpstreamsReferrersPagesAreFollowedAndServedAsOneIndex() throws Exception {
        upstream.referrersPages("team/app", SUBJECT,
                index(descriptor("sha256:" + "1".repeat(64), SIG_TYPE)),
                index(descriptor("sha256:" + "2".repeat(64), "application/spdx+json")),
                index(descriptor("sha256:" + "3".repeat(64), SIG_TYPE)));
        String all = referrers(null);
        assertTrue(all.contains("1111") && all.contains("2222") && all.contains("3333"), all);
        assertEquals(3, upstream.listings.get(), "three pages, each asked once");
        clock.advance(Duration.ofMinutes(11));
        String sigs = referrers(SIG_TYPE);
        assertTrue(sigs.contains("1111") && sigs.contains("3333") && !sigs.contains("2222"), sigs);
    }

    @Test
    void withoutTheReferrersApiTheReferrersTagIsListed() throws Exception {
        // No referrers answer scripted: 404, as distribution 2.8. The client's pusher kept the tag.
        String tagIndex = index(descriptor("sha256:" + "3".repeat(64), SIG_TYPE));
        upstream.manifest("team/app", "sha256-" + SUBJECT.hex(), MediaTypes.OCI_INDEX,
                tagIndex.getBytes(StandardCharsets.UTF_8));
        String answer = referrers(null);
        assertTrue(answer.contains("3333"), answer);
        assertTrue(answer.contains(MediaTypes.OCI_INDEX), answer);
        assertTrue(referrers("application/other").contains("\"manifests\":[]"));
    }

    @Test
    void withoutTheReferrersApiOrTagThereAreNoReferrers() throws Exception {
        assertTrue(referrers(null).contains("\"manifests\":[]"));
    }

    @Test
    void referrersAreServedStaleWhileTheUpstreamIsOut() throws Exception {
        upstream.referrers("team/app", SUBJECT, index(descriptor("sha256:" + "4".repeat(64), SIG_TYPE)));
        assertTrue(referrers(null).contains("4444"));
        upstream.failListings(UpstreamException.Kind.TIMEOUT);
        clock.advance(TTL.plusSeconds(1));
        assertTrue(referrers(null).contains("4444"));
        assertEquals(CacheResult.STALE, lastTold());
    }

    @Test
    void afterARestartWithTheUpstreamOutTheStoreAnswers() throws Exception {
        String tagIndex = index(descriptor("sha256:" + "5".repeat(64), SIG_TYPE));
        upstream.manifest("team/app", "sha256-" + SUBJECT.hex(), MediaTypes.OCI_INDEX,
                tagIndex.getBytes(StandardCharsets.UTF_8));
        upstream.manifest("team/app", "v1", MediaTypes.OCI_INDEX, index().getBytes(StandardCharsets.UTF_8));
        upstream.tags("team/app", "{\"name\":\"team/app\",\"tags\":[\"v1\",\"v2\"]}", null);
        assertTrue(referrers(null).contains("5555"));
        service.manifest(target, ocimirror.storage.oci.Reference.parse("v1"), AcceptedTypes.all()).get();
        running.close();

        running = ScriptedService.open(dir, clock, upstream); // nothing in memory now
        service = running.service;
        upstream.failListings(UpstreamException.Kind.UNREACHABLE);
        upstream.failManifests(UpstreamException.Kind.UNREACHABLE);
        clock.advance(TTL.plusSeconds(1));
        assertTrue(referrers(null).contains("5555"), "the cached referrers tag");
        assertEquals(CacheResult.STALE, lastTold());
        // The tags pulled so far (v1, and the referrers tag), not the upstream's v2.
        assertEquals(List.of("sha256-" + SUBJECT.hex(), "v1"), tags(OciRoute.ALL, null).tags());
        assertEquals(CacheResult.STALE, lastTold());
    }

    @Test
    void referrersTagNameFollowsTheSpec() {
        assertEquals("sha256-" + SUBJECT.hex(), UpstreamListings.referrersTag(SUBJECT));
        assertEquals("x", UpstreamListings.query("</v2/a/tags/list?n=2&last=x>; rel=\"next\"", "last"));
        assertNull(UpstreamListings.query("garbage", "last"));
    }

    private static String index(String... descriptors) {
        return "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":["
                + String.join(",", descriptors) + "]}";
    }

    private static String descriptor(String digest, String artifactType) {
        return "{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + digest
                + "\",\"size\":100,\"artifactType\":\"" + artifactType + "\"}";
    }
}
