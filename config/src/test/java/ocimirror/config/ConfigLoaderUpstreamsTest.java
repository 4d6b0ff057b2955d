package ocimirror.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code upstreams}, {@code hosted} and {@code pullThrough} in a configuration file. */
class ConfigLoaderUpstreamsTest {
    @TempDir
    Path dir;

    @BeforeEach
    void files() throws Exception {
        Files.writeString(dir.resolve("ca.pem"), "not checked by the loader, only by config check\n");
        Files.writeString(dir.resolve("config.json"), "{\"auths\": {}}");
        Files.writeString(dir.resolve("password"), "secret\n");
        Files.createDirectories(dir.resolve("sub"));
    }

    @Test
    void loadsEveryUpstreamKey() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("mirror.yaml", """
                upstreams:
                  - name: docker.io
                    url: https://registry-1.docker.io
                    aliases: [docker.io, registry-1.docker.io]
                    default: true
                  - name: corp
                    url: https://registry.corp:5000
                    aliases: [registry.corp:5000]
                    caCert: ca.pem
                    credentials: {dockerConfig: config.json}
                    tagTtl: 30s
                    timeouts: {connect: 5s, firstByte: PT1M, idle: 90}
                    maxRetries: 0
                    maxConnections: 8
                    maxBandwidth: 200MiB/s
                  - name: lab
                    url: http://10.0.0.5:5000
                    plainHttp: true
                    credentials:
                      username: robot
                      passwordFile: ./sub/../password
                    tagTtl: 1h
                hosted: [local, team-a]
                pullThrough: {prefetchLayers: false, negativeCacheTtl: 2m}
                """));
        assertEquals(3, c.upstreams().size());
        UpstreamConfig hub = c.upstreams().get(0);
        assertTrue(hub.isDefault());
        assertEquals(List.of("docker.io", "registry-1.docker.io"), hub.aliases());
        assertEquals(UpstreamConfig.DEFAULT_TAG_TTL, hub.tagTtl());
        assertEquals(UpstreamConfig.DEFAULT_MAX_RETRIES, hub.maxRetries());
        assertInstanceOf(CredentialSource.None.class, hub.credentials());
        assertTrue(hub.implicitLibraryPrefix());

        UpstreamConfig corp = c.upstreams().get(1);
        assertFalse(corp.isDefault());
        assertEquals(dir.resolve("ca.pem"), corp.caCert(), "relative to the config file's directory");
        assertEquals(new CredentialSource.DockerConfig(dir.resolve("config.json")), corp.credentials());
        assertEquals(Duration.ofSeconds(30), corp.tagTtl());
        assertEquals(new UpstreamConfig.Timeouts(Duration.ofSeconds(5), Duration.ofMinutes(1), Duration.ofSeconds(90)),
                corp.timeouts());
        assertEquals(0, corp.maxRetries());
        assertEquals("registry.corp:5000", corp.authority());
        assertEquals(new UpstreamLimits(8, 200L << 20), corp.limits());
        assertEquals(UpstreamLimits.none(), hub.limits(), "unlimited unless configured");

        UpstreamConfig lab = c.upstreams().get(2);
        assertTrue(lab.plainHttp());
        assertEquals(new CredentialSource.PasswordFile("robot", dir.resolve("password")), lab.credentials());
        assertEquals(Duration.ofHours(1), lab.tagTtl());
        assertFalse(lab.implicitLibraryPrefix());

        assertEquals(List.of("local", "team-a"), c.hosted());
        assertEquals(new MirrorConfig.PullThrough(false, Duration.ofMinutes(2)), c.pullThrough());
        assertEquals(hub, c.defaultUpstream().orElseThrow());
    }

    @Test
    void jsonWorksToo() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("mirror.json", """
                {"upstreams": [{"name": "ghcr.io", "url": "https://ghcr.io", "aliases": ["ghcr.io"], "default": true,
                                "tagTtl": "PT10M"}],
                 "hosted": ["local"]}
                """));
        assertEquals("ghcr.io", c.upstreams().get(0).name());
        assertEquals(Duration.ofMinutes(10), c.upstreams().get(0).tagTtl());
        assertTrue(c.upstreams().get(0).isDefault());
    }

    @Test
    void aFileWithoutUpstreamsIsAPlainRegistryNotTheEmbeddedOne() throws Exception {
        MirrorConfig c = ConfigLoader.load(write("mirror.yaml", "listen: \":5001\"\n"));
        assertEquals(List.of(), c.upstreams());
        assertEquals(List.of(), c.hosted());
        assertEquals(MirrorConfig.PullThrough.defaults(), c.pullThrough());
    }

    static Stream<Arguments> badFiles() {
        String hub = "  - {name: hub, url: \"https://registry-1.docker.io\", aliases: [docker.io], default: true}\n";
        return Stream.of(
                bad("upstreams:\n  - {url: \"https://x.test\"}\n", "upstreams[0].name: missing"),
                bad("upstreams:\n  - {name: x}\n", "upstreams[0].url: missing"),
                bad("upstreams:\n  - {name: Hub, url: \"https://x.test\"}\n",
                        "upstreams[0].name: 'Hub' is not a lower-case name"),
                bad("upstreams:\n  - {name: a/b, url: \"https://x.test\"}\n", "upstreams[0].name: 'a/b' is not"),
                bad("upstreams:\n  - {name: x, url: \"http://x.test\"}\n", "upstreams[0].url: 'http://x.test' must start with https://"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test/v2/\"}\n", "upstreams[0].url: 'https://x.test/v2/' must not have a path"),
                bad("upstreams:\n  - {name: x, url: \"https://x test\"}\n", "upstreams[0].url: 'https://x test' is not a URI"),
                bad("upstreams:\n" + hub + "  - {name: gcr, url: \"https://gcr.io\", aliases: [gcr.io, GCR.io]}\n",
                        "upstreams[1].aliases[1]: 'GCR.io' is not a lower-case host name"),
                bad("upstreams:\n  - {name: gcr, url: \"https://gcr.io\", aliases: [gcr.io, gcr.io]}\n",
                        "upstreams[0].aliases[1]: 'gcr.io' is listed twice"),
                bad("upstreams:\n  - {name: gcr, url: \"https://gcr.io\", aliases: \"gcr.io\"}\n",
                        "upstreams[0].aliases: expected a list"),
                bad("upstreams:\n" + hub + "  - {name: q, url: \"https://quay.io\", default: true}\n",
                        "upstreams[1].default: only one upstream may be the default, and upstream 'hub' already is"),
                bad("upstreams:\n" + hub + "  - {name: hub, url: \"https://quay.io\"}\n",
                        "upstreams[1].name: 'hub' is already used by upstream 'hub'"),
                bad("upstreams:\n" + hub + "  - {name: mirror, url: \"https://mirror.gcr.io\", aliases: [docker.io]}\n",
                        "upstreams[1].aliases[0]: 'docker.io' is already used by upstream 'hub'"),
                bad("upstreams:\n" + hub + "  - {name: docker.io, url: \"https://mirror.gcr.io\"}\n",
                        "upstreams[1].name: 'docker.io' is already used by upstream 'hub'"),
                bad("upstreams:\n" + hub + "hosted: [local, docker.io]\n",
                        "hosted[1]: 'docker.io' is also the name or an alias of upstream 'hub'"),
                bad("upstreams:\n" + hub + "hosted: [hub]\n", "hosted[0]: 'hub' is also the name or an alias"),
                bad("hosted: [Local]\n", "hosted[0]: 'Local' is not a lower-case repository path component"),
                bad("hosted: [a/b]\n", "hosted[0]: 'a/b' is not a lower-case repository path component"),
                bad("hosted: [local, local]\n", "hosted[1]: 'local' is listed twice"),
                bad("hosted: [3]\n", "hosted[0]: expected a string"),
                bad("hosted: local\n", "hosted: expected a list"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", caCert: nope.pem}\n",
                        "upstreams[0].caCert: DIR/nope.pem: no such file"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", caCert: sub}\n",
                        "upstreams[0].caCert: DIR/sub: not a regular file"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {dockerConfig: /nonexistent/config.json}}\n",
                        "upstreams[0].credentials.dockerConfig: /nonexistent/config.json: no such file"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {username: u, passwordFile: missing}}\n",
                        "upstreams[0].credentials.passwordFile: DIR/missing: no such file"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {username: u}}\n",
                        "upstreams[0].credentials.passwordFile: missing (username needs it)"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {passwordFile: password}}\n",
                        "upstreams[0].credentials.username: missing"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {username: \"a:b\", passwordFile: password}}\n",
                        "upstreams[0].credentials.username: must not contain ':'"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {dockerConfig: config.json, username: u}}\n",
                        "upstreams[0].credentials: give either dockerConfig, or username and passwordFile, not both"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {}}\n",
                        "upstreams[0].credentials: give dockerConfig, or username and passwordFile"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", credentials: {token: t}}\n",
                        "upstreams[0].credentials.token: unknown field"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", tagTtl: soon}\n",
                        "upstreams[0].tagTtl: expected a duration such as 30s"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", tagTtl: 1.5}\n",
                        "upstreams[0].tagTtl: expected a duration"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", tagTtl: -5}\n",
                        "upstreams[0].tagTtl: must not be negative"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", timeouts: {connect: 0s}}\n",
                        "upstreams[0].timeouts.connect: must be positive"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxRetries: 11}\n",
                        "upstreams[0].maxRetries: must be 0..10, got 11"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxConnections: 0}\n",
                        "upstreams[0].maxConnections: must be positive (leave it out for no limit), got 0"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxConnections: -2}\n",
                        "upstreams[0].maxConnections: must be positive"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxConnections: many}\n",
                        "upstreams[0].maxConnections: expected an integer"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxBandwidth: 0}\n",
                        "upstreams[0].maxBandwidth: must be positive, got 0"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxBandwidth: 0MiB/s}\n",
                        "upstreams[0].maxBandwidth: must be positive"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxBandwidth: -5}\n",
                        "upstreams[0].maxBandwidth: must not be negative"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxBandwidth: 200MiB/min}\n",
                        "upstreams[0].maxBandwidth: expected a rate such as 200MiB/s"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxBandwidth: fast}\n",
                        "upstreams[0].maxBandwidth: expected a rate such as 200MiB/s"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", maxBandwidth: 2XB/s}\n",
                        "upstreams[0].maxBandwidth: unknown unit 'XB'"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", plainHttp: yes please}\n",
                        "upstreams[0].plainHttp: expected a boolean"),
                bad("upstreams:\n  - {name: x, url: \"https://x.test\", mirrorOf: y}\n",
                        "upstreams[0].mirrorOf: unknown field"),
                bad("upstreams: {name: x}\n", "upstreams: expected a list"),
                bad("pullThrough: {negativeCacheTtl: forever}\n", "pullThrough.negativeCacheTtl: expected a duration"),
                bad("pullThrough: {prefetchLayers: 1}\n", "pullThrough.prefetchLayers: expected a boolean"));
    }

    private static Arguments bad(String content, String message) {
        return Arguments.of(content, message);
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("badFiles")
    void errorsNameTheFileAndTheFieldPath(String content, String expected) throws Exception {
        Path file = write("mirror.yaml", content);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        String message = e.getMessage().replace(dir.toString(), "DIR");
        assertTrue(message.startsWith("DIR/mirror.yaml: " + expected), message);
    }

    private Path write(String name, String content) throws Exception {
        return Files.writeString(dir.resolve(name), content);
    }
}
