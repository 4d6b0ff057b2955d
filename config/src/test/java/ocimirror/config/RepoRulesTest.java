package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** {@code upstreams[].allow} and {@code deny}: glob semantics, precedence and the refusals at load. */
class RepoRulesTest {

    @ParameterizedTest(name = "{0} ~ {1}: {2}")
    @CsvSource({
            "library/*, library/nginx, true",
            "library/*, library/nginx/sub, false",
            "library/*, library, false",
            "bitnami/**, bitnami/nginx, true",
            "bitnami/**, bitnami/a/b/c, true",
            "bitnami/**, bitnami, false",
            "bitnami/**, bitnamix/nginx, false",
            "**/nginx, nginx, true",
            "**/nginx, a/b/nginx, true",
            "**/nginx, a/nginx-x, false",
            "a/**/b, a/b, true",
            "a/**/b, a/x/y/b, true",
            "a/**/b, a/x/y/c, false",
            "**, anything/at/all, true",
            "team/app-*, team/app-1, true",
            "team/app-*, team/app, false",
            "team/*-dev, team/x-dev, true",
            "team/a.b, team/axb, false",
            "*, single, true",
            "*, two/segments, false",
    })
    void globs(String glob, String repo, boolean matches) {
        RepoRules r = RepoRules.of(List.of(glob), null, false);
        assertEquals(matches, r.refusal(repo) == null, r.refusal(repo));
    }

    @Test
    void denyWinsOverAllowAndNamesTheRule() {
        RepoRules r = RepoRules.of(List.of("bitnami/**"), List.of("bitnami/private-*"), true);
        assertNull(r.refusal("bitnami/nginx"));
        assertEquals("matches deny rule 'bitnami/private-*'", r.refusal("bitnami/private-db"));
        assertEquals("matches no allow rule (allow: bitnami/**)", r.refusal("library/nginx"));
        RepoRules denyOnly = RepoRules.of(null, List.of("library/*"), true);
        assertNull(denyOnly.refusal("bitnami/nginx"), "no allow list: all but the denied");
        assertEquals("matches deny rule 'library/*'", denyOnly.refusal("library/nginx"));
        assertTrue(RepoRules.of(null, null, true).isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"Library/*", "library//nginx", "/library/*", "library/", "-x/*", "a/b**", "a/*.",
            "a/b c", "a/ü"})
    void aGlobThatCanMatchNothingIsRefused(String glob) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RepoRules.of(null, List.of("ok/*", glob), false));
        assertTrue(e.getMessage().startsWith("deny[1]: '" + glob + "' "), e.getMessage());
    }

    @Test
    void aSingleSegmentGlobOnDockerHubIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RepoRules.of(List.of("nginx"), null, true));
        assertTrue(e.getMessage().contains("allow[0]: 'nginx' can match no repository of Docker Hub")
                && e.getMessage().contains("library/nginx"), e.getMessage());
        assertNull(RepoRules.of(List.of("nginx"), null, false).refusal("nginx"), "elsewhere it can match");
    }

    @Test
    void theFileNamesTheFieldOfABadGlob() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse("""
                upstreams:
                  - name: hub
                    url: https://registry-1.docker.io
                    allow: [library/*, Bitnami/**]
                """, "m.yaml", false));
        assertEquals("m.yaml: upstreams[0].allow[1]: 'Bitnami/**' can match no repository: names hold only"
                + " lower-case letters, digits and . _ - / (with * and ** as wildcards)", e.getMessage());
        ConfigException empty = assertThrows(ConfigException.class, () -> ConfigLoader.parse("""
                upstreams:
                  - {name: hub, url: https://registry-1.docker.io, allow: []}
                """, "m.yaml", false));
        assertTrue(empty.getMessage().startsWith("m.yaml: upstreams[0].allow: an empty list would refuse every"),
                empty.getMessage());
        ConfigException nul = assertThrows(ConfigException.class, () -> ConfigLoader.parse("""
                upstreams:
                  - {name: hub, url: https://registry-1.docker.io, deny: [library/x, null]}
                """, "m.yaml", false));
        assertEquals("m.yaml: upstreams[0].deny[1]: expected a string", nul.getMessage());
    }

    @Test
    void theFileSetsTheRules() throws ConfigException {
        MirrorConfig c = ConfigLoader.parse("""
                upstreams:
                  - name: hub
                    url: https://registry-1.docker.io
                    allow: [library/*, bitnami/**]
                    deny: [library/ubuntu]
                  - {name: corp, url: https://registry.corp}
                """, "m.yaml", false);
        RepoRules r = c.upstreams().get(0).rules();
        assertEquals(List.of("library/*", "bitnami/**"), r.allow());
        assertEquals(List.of("library/ubuntu"), r.deny());
        assertTrue(c.upstreams().get(1).rules().isEmpty(), "no keys: every repository");
        assertEquals(r, UpstreamConfig.builder("hub", "https://registry-1.docker.io")
                .allow("library/*", "bitnami/**").deny("library/ubuntu").build().rules());
    }
}
