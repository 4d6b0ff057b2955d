package ocimirror.server.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import ocimirror.config.MirrorConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class PinnedImageTest {
    private static final String DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static final MirrorConfig EMBEDDED = MirrorConfig.embedded();
    private static final UpstreamRouter ROUTER = new UpstreamRouter(List.of(EMBEDDED.upstreams().get(0),
            EMBEDDED.upstreams().get(1), UpstreamConfig.builder("corp", "https://registry.corp:5000")
                    .aliases("registry.corp:5000").build()), List.of("local"));

    @ParameterizedTest
    @CsvSource({
            "alpine,                                   docker.io/library/alpine,  latest",
            "alpine:3.20,                              docker.io/library/alpine,  3.20",
            "docker.io/library/alpine:3.20,            docker.io/library/alpine,  3.20",
            "team/app:v1,                              docker.io/team/app,        v1",
            "gcr.io/distroless/static@" + DIGEST + ",  gcr.io/distroless/static,  " + DIGEST,
            "registry.corp:5000/team/app:v1,           corp/team/app,             v1"})
    void routesAsAClientsRequestWould(String image, String repo, String reference) {
        PinnedImage pin = PinnedImage.resolve(image, ROUTER);
        RepoTarget.Proxied target = assertInstanceOf(RepoTarget.Proxied.class, pin.target());
        assertEquals(RepoName.of(repo), target.repo());
        assertEquals(Reference.parse(reference), pin.reference());
        assertEquals(RepoName.of(repo), pin.pin().repo());
    }

    @org.junit.jupiter.api.Test
    void aHostedImageIsHosted() {
        PinnedImage pin = PinnedImage.resolve("local/tools:1", ROUTER);
        assertInstanceOf(RepoTarget.Hosted.class, pin.target());
        assertEquals(RepoName.of("local/tools"), pin.target().repo());
    }

    @ParameterizedTest
    @ValueSource(strings = {"quay.io/coreos/etcd:v3", "Alpine", "alpine:", "registry.other:5000/x:1"})
    void refusesWhatCannotBeRouted(String image) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PinnedImage.resolve(image, ROUTER));
        assertFalse(e.getMessage().isBlank());
    }

    @org.junit.jupiter.api.Test
    void cacheReposAreThoseOfUpstreamNames() {
        CacheRepos repos = new CacheRepos(EMBEDDED.upstreams());
        assertTrue(repos.test(RepoName.of("docker.io/library/alpine")));
        assertTrue(repos.test(RepoName.of("registry.k8s.io/pause")));
        assertTrue(repos.hosted(RepoName.of("local/app")));
        assertTrue(repos.hosted(RepoName.of("docker.io")), "a one-segment name is no cache key");
    }
}
