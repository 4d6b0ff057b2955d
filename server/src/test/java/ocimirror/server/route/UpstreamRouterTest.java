package ocimirror.server.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UpstreamRouterTest {

    private static final UpstreamConfig HUB = UpstreamConfig.builder("docker.io", "https://registry-1.docker.io")
            .aliases("docker.io", "registry-1.docker.io", "index.docker.io").isDefault(true).build();
    private static final UpstreamConfig GCR = UpstreamConfig.builder("gcr", "https://gcr.io").aliases("gcr.io").build();
    private static final UpstreamConfig PRIVATE = UpstreamConfig.builder("corp", "https://registry.corp:5000")
            .aliases("registry.corp:5000", "registry.corp").build();
    private static final String CONFIGURED =
            "configured: docker.io, registry-1.docker.io, index.docker.io, gcr.io, gcr, registry.corp:5000, registry.corp, corp";

    private final UpstreamRouter router = new UpstreamRouter(List.of(HUB, GCR, PRIVATE), List.of("local", "team"));

    /** requested repo, ns (empty: none) → upstream name, upstream repo, cache key. */
    @ParameterizedTest(name = "{0} ns={1} -> {2} {3}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            // (a) ns: the whole path is the upstream repo; case-insensitive; library/ on Docker Hub
            "library/nginx             | docker.io            | docker.io | library/nginx        | docker.io/library/nginx",
            "nginx                     | docker.io            | docker.io | library/nginx        | docker.io/library/nginx",
            "bitnami/redis             | index.docker.io      | docker.io | bitnami/redis        | docker.io/bitnami/redis",
            "distroless/static         | gcr.io               | gcr       | distroless/static    | gcr/distroless/static",
            "distroless/static         | GCR.io               | gcr       | distroless/static    | gcr/distroless/static",
            "team/app                  | registry.corp:5000   | corp      | team/app             | corp/team/app",
            "app                       | registry.corp        | corp      | app                  | corp/app",
            "local/app                 | gcr.io               | gcr       | local/app            | gcr/local/app",
            "gcr.io/distroless/static  | docker.io            | docker.io | gcr.io/distroless/static | docker.io/gcr.io/distroless/static",
            // (a) containerd own-namespace layout: prefix and ns together; the prefix is dropped
            "docker.io/library/nginx   | docker.io            | docker.io | library/nginx        | docker.io/library/nginx",
            "docker.io/nginx           | docker.io            | docker.io | library/nginx        | docker.io/library/nginx",
            "gcr/distroless/static     | gcr.io               | gcr       | distroless/static    | gcr/distroless/static",
            // (b) path prefix by alias or name
            "gcr.io/distroless/static  | -                    | gcr       | distroless/static    | gcr/distroless/static",
            "gcr/distroless/static     | -                    | gcr       | distroless/static    | gcr/distroless/static",
            "docker.io/nginx           | -                    | docker.io | library/nginx        | docker.io/library/nginx",
            "index.docker.io/library/busybox | -              | docker.io | library/busybox      | docker.io/library/busybox",
            "registry.corp/team/app    | -                    | corp      | team/app             | corp/team/app",
            "corp/app                  | -                    | corp      | app                  | corp/app",
            // (d) the default upstream; a single segment is a name, never a prefix
            "library/nginx             | -                    | docker.io | library/nginx        | docker.io/library/nginx",
            "nginx                     | -                    | docker.io | library/nginx        | docker.io/library/nginx",
            "gcr.io                    | -                    | docker.io | library/gcr.io       | docker.io/library/gcr.io",
            "bitnami/redis             | -                    | docker.io | bitnami/redis        | docker.io/bitnami/redis",
            "localteam/app             | -                    | docker.io | localteam/app        | docker.io/localteam/app",
    })
    void proxied(String requested, String ns, String upstream, String upstreamRepo, String key) {
        RepoTarget t = router.resolve(RepoName.of(requested), ns);
        RepoTarget.Proxied p = assertInstanceOf(RepoTarget.Proxied.class, t);
        assertEquals(upstream, p.upstream().name());
        assertEquals(upstreamRepo, p.upstreamRepo().value());
        assertEquals(key, p.repo().value());
        assertEquals(key, t.repo().value());
        assertEquals(ns, p.namespace());
    }

    @ParameterizedTest
    @CsvSource({"local/app", "local/a/b/c", "local", "team/x"})
    void hostedNamespacesAreNeverProxied(String requested) {
        RepoTarget t = router.resolve(RepoName.of(requested), null);
        assertEquals(new RepoTarget.Hosted(RepoName.of(requested)), t);
    }

    @ParameterizedTest(name = "{0} ns={1}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            "library/nginx    | quay.io       | ns 'quay.io' names no upstream",
            "library/nginx    | localhost:5000| ns 'localhost:5000' names no upstream",
            "library/nginx    | registry.corp:5001 | ns 'registry.corp:5001' names no upstream",
            "local/app        | local         | ns 'local' names no upstream",
            "quay.io/x/y      | -             | 'quay.io' names no upstream of this mirror and no hosted namespace",
            "my.org/app       | -             | 'my.org' names no upstream",
    })
    void unknownNsOrHostPrefixIsNameUnknownListingTheAliases(String requested, String ns, String start) {
        OciException e = assertThrows(OciException.class, () -> router.resolve(RepoName.of(requested), ns));
        assertEquals(OciError.NAME_UNKNOWN, e.error());
        assertEquals(404, e.error().httpStatus());
        assertTrue(e.getMessage().contains(start), e.getMessage());
        assertTrue(e.getMessage().endsWith(CONFIGURED), e.getMessage());
    }

    @Test
    void withoutDefaultUnmatchedNamesAreHosted() {
        UpstreamRouter r = new UpstreamRouter(List.of(GCR), List.of());
        assertEquals(new RepoTarget.Hosted(RepoName.of("library/nginx")), r.resolve(RepoName.of("library/nginx"), null));
        assertInstanceOf(RepoTarget.Proxied.class, r.resolve(RepoName.of("gcr.io/x/y"), null));
        // gcr.io is not Docker Hub: no library/ prefix for a single segment
        RepoTarget.Proxied p = assertInstanceOf(RepoTarget.Proxied.class, r.resolve(RepoName.of("pause"), "gcr.io"));
        assertEquals("pause", p.upstreamRepo().value());
        assertEquals("gcr/pause", p.repo().value());
        assertThrows(OciException.class, () -> r.resolve(RepoName.of("quay.io/x/y"), null));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            "library/nginx | docker.io", "quay.io/x/y | -", "local/app | -", "a | gcr.io", "x.y/z | bogus.example"})
    void noUpstreamsMeansAPlainRegistry(String requested, String ns) {
        UpstreamRouter plain = new UpstreamRouter(List.of(), List.of());
        assertFalse(plain.proxies());
        assertEquals(new RepoTarget.Hosted(RepoName.of(requested)), plain.resolve(RepoName.of(requested), ns));
        assertTrue(router.proxies());
    }

    @Test
    void cacheKeyLongerThan255IsNameInvalid() {
        UpstreamConfig longName = UpstreamConfig.builder("a".repeat(60), "https://r.test").aliases("r.test").build();
        UpstreamRouter r = new UpstreamRouter(List.of(longName), List.of());
        String fits = "b".repeat(255 - 61);
        assertEquals(255, r.resolve(RepoName.of("r.test/" + fits), null).repo().value().length());
        String tooLong = "b".repeat(255 - 60);
        OciException e = assertThrows(OciException.class, () -> r.resolve(RepoName.of(tooLong), "r.test"));
        assertEquals(OciError.NAME_INVALID, e.error());
        assertTrue(e.getMessage().contains("256 characters"), e.getMessage());
        // Docker Hub's library/ counts too
        UpstreamRouter hub = new UpstreamRouter(List.of(HUB), List.of());
        String single = "n".repeat(255 - "docker.io/library/".length() + 1);
        assertEquals(OciError.NAME_INVALID,
                assertThrows(OciException.class, () -> hub.resolve(RepoName.of(single), null)).error());
    }

    @Test
    void embeddedConfigurationRoutesThePublicRegistries() {
        MirrorConfig c = MirrorConfig.embedded();
        UpstreamRouter r = new UpstreamRouter(c.upstreams(), c.hosted());
        assertEquals("docker.io/library/nginx", r.resolve(RepoName.of("nginx"), null).repo().value());
        assertEquals("docker.io/library/nginx", r.resolve(RepoName.of("library/nginx"), "docker.io").repo().value());
        assertEquals("registry.k8s.io/pause", r.resolve(RepoName.of("registry.k8s.io/pause"), null).repo().value());
        assertEquals("ghcr.io/org/app", r.resolve(RepoName.of("org/app"), "ghcr.io").repo().value());
        assertEquals("quay.io/coreos/etcd", r.resolve(RepoName.of("quay.io/coreos/etcd"), null).repo().value());
        assertEquals("gcr.io/distroless/base", r.resolve(RepoName.of("gcr.io/distroless/base"), null).repo().value());
        assertEquals(new RepoTarget.Hosted(RepoName.of("local/app")), r.resolve(RepoName.of("local/app"), null));
        OciException e = assertThrows(OciException.class, () -> r.resolve(RepoName.of("x"), "example.com"));
        assertTrue(e.getMessage().endsWith("configured: docker.io, registry-1.docker.io, index.docker.io, gcr.io,"
                + " ghcr.io, quay.io, registry.k8s.io"), e.getMessage());
    }

    @Test
    void inconsistentUpstreamsAreRefused() {
        UpstreamConfig otherHub = UpstreamConfig.builder("hub2", "https://mirror.gcr.io").aliases("docker.io").build();
        assertThrows(IllegalArgumentException.class, () -> new UpstreamRouter(List.of(HUB, otherHub), List.of()));
        assertThrows(IllegalArgumentException.class, () -> new UpstreamRouter(List.of(GCR), List.of("gcr.io")));
        UpstreamConfig def2 = UpstreamConfig.builder("q", "https://quay.io").isDefault(true).build();
        assertThrows(IllegalArgumentException.class, () -> new UpstreamRouter(List.of(HUB, def2), List.of()));
    }

    @Test
    void withoutNsThereIsNoNamespaceToEcho() {
        RepoTarget.Proxied p = (RepoTarget.Proxied) router.resolve(RepoName.of("nginx"), null);
        assertNull(p.namespace());
    }

    /** Every way of naming a Docker Hub repository: the rules see the path at the upstream. */
    @ParameterizedTest(name = "{0} ns={1}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            "nginx                   | -",
            "library/nginx           | -",
            "docker.io/nginx         | -",
            "docker.io/library/nginx | -",
            "nginx                   | docker.io",
            "docker.io/nginx         | docker.io",
    })
    void rulesMatchTheRepositoryAtTheUpstreamWhateverTheClientCalledIt(String requested, String ns) {
        UpstreamConfig hub = UpstreamConfig.builder("docker.io", "https://registry-1.docker.io").aliases("docker.io")
                .isDefault(true).allow("library/*", "bitnami/**").deny("library/nginx").build();
        UpstreamRouter ruled = new UpstreamRouter(List.of(hub, GCR), List.of("local"));
        OciException e = assertThrows(OciException.class, () -> ruled.resolve(RepoName.of(requested), ns));
        assertEquals(OciError.DENIED, e.error());
        assertEquals("repository 'library/nginx' of upstream 'docker.io' is not proxied by this mirror: it matches"
                + " deny rule 'library/nginx'", e.detail());
        assertEquals(1, ruled.denials("docker.io"));
        assertEquals(0, ruled.denials("gcr"));
    }

    @Test
    void allowedHostedAndOtherUpstreamsAreUntouchedAndOnlyRefusalsCount() {
        UpstreamConfig hub = UpstreamConfig.builder("docker.io", "https://registry-1.docker.io").aliases("docker.io")
                .isDefault(true).allow("library/*", "bitnami/**").deny("bitnami/private-*").build();
        UpstreamRouter ruled = new UpstreamRouter(List.of(hub, GCR), List.of("local"));
        assertEquals("docker.io/library/alpine", ruled.resolve(RepoName.of("alpine"), null).repo().value());
        assertEquals("docker.io/bitnami/charts/redis",
                ruled.resolve(RepoName.of("bitnami/charts/redis"), "docker.io").repo().value());
        assertInstanceOf(RepoTarget.Hosted.class, ruled.resolve(RepoName.of("local/grafana/grafana"), null));
        assertInstanceOf(RepoTarget.Proxied.class, ruled.resolve(RepoName.of("gcr.io/grafana/grafana"), null));
        assertEquals(0, ruled.denials("docker.io"));
        OciException outside = assertThrows(OciException.class,
                () -> ruled.resolve(RepoName.of("grafana/grafana"), null));
        assertEquals(OciError.DENIED, outside.error());
        assertTrue(outside.detail().endsWith("it matches no allow rule (allow: library/*, bitnami/**)"),
                outside.detail());
        OciException both = assertThrows(OciException.class,
                () -> ruled.resolve(RepoName.of("bitnami/private-db"), null));
        assertTrue(both.detail().endsWith("it matches deny rule 'bitnami/private-*'"), "deny wins: " + both.detail());
        assertEquals(2, ruled.denials("docker.io"));
    }

    @Test
    void theCatalogListsNoCacheKeyOfARefusedRepository() {
        UpstreamConfig hub = UpstreamConfig.builder("docker.io", "https://registry-1.docker.io").aliases("hub.test")
                .allow("library/*").deny("library/secret").build();
        UpstreamRouter ruled = new UpstreamRouter(List.of(hub, GCR), List.of("local"));
        assertTrue(ruled.listable("docker.io/library/alpine"));
        assertFalse(ruled.listable("docker.io/library/secret"), "denied");
        assertFalse(ruled.listable("docker.io/bitnami/redis"), "outside the allow rules");
        assertTrue(ruled.listable("hub.test/bitnami/redis"), "an alias is not a cache key's prefix");
        assertTrue(ruled.listable("gcr/anything/at/all"), "another upstream has no rules");
        assertTrue(ruled.listable("local/library/secret"), "hosted");
        assertTrue(ruled.listable("secret"));
        assertEquals(0, ruled.denials("docker.io"), "listing is no request refused");
    }
}
