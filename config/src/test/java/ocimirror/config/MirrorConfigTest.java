package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class MirrorConfigTest {

    @Test
    void defaultsIsAPlainRegistry() {
        MirrorConfig d = MirrorConfig.defaults();
        assertEquals(List.of(), d.upstreams());
        assertEquals(List.of(), d.hosted());
        assertTrue(d.defaultUpstream().isEmpty());
        assertEquals(new MirrorConfig.PullThrough(true, Duration.ofSeconds(30)), d.pullThrough());
        assertEquals(d, new MirrorConfig(d.listen(), d.dataDir(), null, null));
    }

    @Test
    void theProductDefaultIsHttpsWithAGeneratedCaAndPlainHttpIsAskedFor() {
        assertEquals(TlsConfig.defaults(), MirrorConfig.defaults().tls());
        assertTrue(MirrorConfig.embedded().tls().enabled());
        assertEquals(TlsConfig.Mode.GENERATE, MirrorConfig.embedded().tls().mode());
        assertEquals(AuthConfig.disabled(), MirrorConfig.embedded().auth());
        AuthConfig auth = new AuthConfig(Path.of("htpasswd"), null, null, null);
        MirrorConfig c = MirrorConfig.embedded().withTls(TlsConfig.off()).withAuth(auth)
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0));
        assertEquals(TlsConfig.off(), c.tls());
        assertEquals(auth, c.auth());
        assertEquals(MirrorConfig.embedded().upstreams(), c.upstreams());
        assertEquals(TlsConfig.off(), c.withDataDir(Path.of("x")).withRouting(List.of(), List.of()).tls(),
                "the other withers keep tls");
        assertEquals(auth, c.withPullThrough(MirrorConfig.PullThrough.defaults()).auth());
    }

    @Test
    void embeddedProxiesThePublicRegistriesAndHostsLocal() {
        MirrorConfig e = MirrorConfig.embedded();
        assertEquals(List.of("docker.io", "gcr.io", "ghcr.io", "quay.io", "registry.k8s.io"),
                e.upstreams().stream().map(UpstreamConfig::name).toList());
        UpstreamConfig hub = e.defaultUpstream().orElseThrow();
        assertEquals("registry-1.docker.io", hub.authority());
        assertEquals(List.of("docker.io", "registry-1.docker.io", "index.docker.io"), hub.aliases());
        assertTrue(hub.implicitLibraryPrefix());
        assertEquals(1, e.upstreams().stream().filter(UpstreamConfig::isDefault).count());
        for (UpstreamConfig u : e.upstreams().subList(1, 5)) {
            assertEquals(List.of(u.host()), u.aliases());
            assertEquals(u.name(), u.host());
        }
        assertEquals(List.of("local"), e.hosted());
        assertEquals(MirrorConfig.defaults().listen(), e.listen());
        assertEquals(MirrorConfig.defaults().dataDir(), e.dataDir());
    }

    @Test
    void withersKeepTheRest() {
        MirrorConfig e = MirrorConfig.embedded()
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(Path.of("/tmp/x"))
                .withPullThrough(new MirrorConfig.PullThrough(false, Duration.ZERO));
        assertEquals(MirrorConfig.embedded().upstreams(), e.upstreams());
        assertEquals(List.of("local"), e.hosted());
        assertEquals(Path.of("/tmp/x"), e.dataDir());
        assertEquals(Duration.ZERO, e.pullThrough().negativeCacheTtl());
        assertEquals(List.of(), e.withRouting(List.of(), List.of()).upstreams());
    }

    @Test
    void crossFieldRulesNameTheField() {
        UpstreamConfig a = UpstreamConfig.builder("a", "https://a.test").aliases("a.test").isDefault(true).build();
        UpstreamConfig b = UpstreamConfig.builder("b", "https://b.test").aliases("b.test", "a.test").build();
        MirrorConfig d = MirrorConfig.defaults();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.withRouting(List.of(a, b), List.of()));
        assertEquals("upstreams[1].aliases[1]: 'a.test' is already used by upstream 'a'", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.withRouting(List.of(a), List.of("a")));
        assertTrue(e.getMessage().startsWith("hosted[0]: 'a' is also the name or an alias of upstream 'a'"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new MirrorConfig.PullThrough(true, Duration.ofSeconds(-1)));
    }
}
