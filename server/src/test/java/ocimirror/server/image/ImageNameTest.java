package ocimirror.server.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ImageNameTest {
    static final String DIGEST = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    final UpstreamRouter router;

    ImageNameTest() {
        List<UpstreamConfig> ups = new java.util.ArrayList<>(MirrorConfig.embedded().upstreams());
        ups.add(UpstreamConfig.builder("corp", "https://registry.corp:5000").aliases("registry.corp:5000").build());
        router = new UpstreamRouter(ups, List.of("local"));
    }

    @ParameterizedTest
    @CsvSource({
            "gcr.io/team/app:1, gcr.io/team/app, 1, gcr.io",
            "nginx, nginx, latest, ",
            "local/app@" + DIGEST + ", local/app, " + DIGEST + ", ",
            "team/app:1@" + DIGEST + ", team/app, " + DIGEST + ", ",
            "registry.corp:5000/team/x, registry.corp:5000/team/x, latest, registry.corp:5000",
            "localhost/x:2, localhost/x, 2, localhost"})
    void parsesNameReferenceAndHost(String s, String name, String ref, String host) {
        ImageName n = ImageName.parse(s);
        assertEquals(name, n.name());
        assertEquals(ref, n.reference().toString());
        assertEquals(host, n.host());
    }

    @ParameterizedTest
    @CsvSource({
            "gcr.io/team/app:1, gcr.io, team/app, gcr.io/team/app",
            "nginx:1.27, docker.io, library/nginx, docker.io/library/nginx",
            "docker.io/nginx, docker.io, library/nginx, docker.io/library/nginx",
            "registry.corp:5000/team/x:2, corp, team/x, corp/team/x"})
    void routesLikeARequest(String s, String upstream, String upstreamRepo, String cacheKey) {
        RepoTarget t = ImageName.parse(s).resolve(router);
        RepoTarget.Proxied p = (RepoTarget.Proxied) t;
        assertEquals(upstream, p.upstream().name());
        assertEquals(upstreamRepo, p.upstreamRepo().value());
        assertEquals(cacheKey, p.repo().value());
    }

    @Test
    void aHostedNamespaceIsHosted() {
        RepoTarget t = ImageName.parse("local/team/tool:2").resolve(router);
        assertTrue(t instanceof RepoTarget.Hosted);
        assertEquals("local/team/tool", t.repo().value());
        assertEquals(new Reference.Tag("2"), ImageName.parse("local/team/tool:2").reference());
    }

    @Test
    void anUnknownRegistryHostIsNotSentToTheDefaultUpstream() {
        OciException e = assertThrows(OciException.class, () -> ImageName.parse("quay.example/x/y").resolve(router));
        assertTrue(e.getMessage().contains("names no upstream"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Team/App", "app@latest", "app:", "a//b", "app:bad tag"})
    void refusesWhatIsNoImageName(String s) {
        assertThrows(IllegalArgumentException.class, () -> ImageName.parse(s));
    }

    @Test
    void platformsMatchOsArchAndVariantWhenGiven() {
        Platform arm = Platform.parse("linux/arm64");
        assertTrue(arm.matches(new Platform("linux", "arm64", "v8")));
        assertTrue(Platform.parse("linux/arm64/v8").matches(new Platform("linux", "arm64", null)),
                "arm64's default variant");
        assertFalse(Platform.parse("linux/arm/v7").matches(new Platform("linux", "arm", "v6")));
        assertFalse(arm.matches(new Platform("linux", "amd64", null)));
        assertFalse(arm.matches(null));
        assertNull(Platform.parse("linux/amd64").variant());
        assertThrows(IllegalArgumentException.class, () -> Platform.parse("amd64"));
    }
}
