package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.upstream.UpstreamException.Kind;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.DockerRegistry;
import ocimirror.testing.MutableClock;
import ocimirror.testing.Programs;
import ocimirror.testing.TestPki;
import ocimirror.testing.TinyImage;
import ocimirror.testing.TokenServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Bearer token flow against a real distribution registry configured with
 * {@code auth: token:} (plain HTTP, as {@code plainHttp: true} upstreams are), and a token
 * endpoint in the test that signs ES256 JWTs with a certificate from the registry's
 * rootcertbundle.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BearerTokenFlowTest {

    private static final List<String> OCI = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX);
    private static final RepoName REPO = RepoName.of("private/app");
    private static final String SCOPE = "repository:private/app:pull";
    private static final RegistryCredentials BOB = new RegistryCredentials("bob", "secret-b");

    private TokenServer tokens;
    private DockerRegistry registry;
    private TinyImage image;
    private EventLoopGroup group;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        Programs.require("openssl", "openssl");
        TestPki pki = TestPki.create(tmp.resolve("pki"));
        TestPki.Issued signer = pki.signer("token-signer");
        tokens = new TokenServer(signer.privateKey(), signer.certificate(), BOB.username(), BOB.password());
        registry = DockerRegistry.start(tmp.resolve("registry"), null, "token:\n"
                + "  realm: " + tokens.realm() + "\n"
                + "  service: " + tokens.service() + "\n"
                + "  issuer: " + tokens.issuer() + "\n"
                + "  rootcertbundle: " + pki.caCert() + "\n");
        image = TinyImage.write(tmp.resolve("image"), "1", 5_000, 3);
        registry.push(image, REPO + ":1", null, BOB.username() + ":" + BOB.password());
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterAll
    void stop() throws Exception {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (registry != null) {
            registry.close();
        }
        if (tokens != null) {
            tokens.close();
        }
    }

    private NettyUpstreamClient client(Optional<RegistryCredentials> creds, MutableClock clock) {
        UpstreamConfig cfg = UpstreamConfig.builder("b", "http://127.0.0.1:" + registry.port()).plainHttp(true).build();
        return new NettyUpstreamClient(cfg, creds, group, clock, UpstreamClientOptions.defaults());
    }

    private static MutableClock clock() {
        return new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    }

    private static <T> T ok(CompletableFuture<T> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    private int hitsSoFar() {
        return tokens.hitsFor(SCOPE).size();
    }

    @Test
    void tokenIsFetchedOnceWithTheCredentialsAndCachedUntilItExpires() throws Exception {
        MutableClock clock = clock();
        try (NettyUpstreamClient c = client(Optional.of(BOB), clock)) {
            int before = hitsSoFar();
            UpstreamManifest m = ok(c.getManifest(REPO, Reference.parse("1"), OCI));
            assertArrayEquals(image.manifest(), m.body());
            assertEquals(image.manifestDigest(), m.dockerContentDigest());
            assertEquals(image.manifestDigest(), ok(c.headManifest(REPO, Reference.parse("1"), OCI)).digest());
            RecordingSink sink = new RecordingSink();
            ok(c.fetchBlob(REPO, image.layerDigest(), sink));
            assertEquals(image.layerDigest(), Digest.sha256(sink.bytes()));
            ok(c.getManifest(REPO, Reference.parse(image.manifestDigest().toString()), OCI));

            List<TokenServer.Hit> hits = tokens.hitsFor(SCOPE).subList(before, hitsSoFar());
            assertEquals(1, hits.size(), "token fetched once for four requests: " + hits);
            String basic = "Basic " + Base64.getEncoder().encodeToString("bob:secret-b".getBytes(StandardCharsets.UTF_8));
            assertEquals(basic, hits.get(0).authorization());
            assertEquals(tokens.service(), hits.get(0).service());

            clock.advance(Duration.ofSeconds(40)); // expires_in 60: still good
            ok(c.headManifest(REPO, Reference.parse("1"), OCI));
            assertEquals(before + 1, hitsSoFar());

            clock.advance(Duration.ofSeconds(30)); // 70 s: expired by the client's clock
            ok(c.headManifest(REPO, Reference.parse("1"), OCI));
            assertEquals(before + 2, hitsSoFar(), "token fetched again after expiry");
        }
    }

    @Test
    void tokensAreScopedPerRepository() throws Exception {
        try (NettyUpstreamClient c = client(Optional.of(BOB), clock())) {
            ok(c.headManifest(REPO, Reference.parse("1"), OCI));
            String otherScope = "repository:other/repo:pull";
            int before = tokens.hitsFor(otherScope).size();
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> c.getManifest(RepoName.of("other/repo"), Reference.parse("1"), OCI).get(20, TimeUnit.SECONDS));
            // a token for that repository was fetched (the one for private/app does not cover it), then 404
            assertEquals(Kind.NOT_FOUND, assertInstanceOf(UpstreamException.class, e.getCause()).kind());
            assertEquals(before + 1, tokens.hitsFor(otherScope).size());
        }
    }

    @Test
    void anonymousClientGetsAnAnonymousPullToken() throws Exception {
        try (NettyUpstreamClient c = client(Optional.empty(), clock())) {
            int before = hitsSoFar();
            assertEquals(image.manifestDigest(), ok(c.headManifest(REPO, Reference.parse("1"), OCI)).digest());
            List<TokenServer.Hit> hits = tokens.hitsFor(SCOPE).subList(before, hitsSoFar());
            assertEquals(1, hits.size());
            assertNull(hits.get(0).authorization());
        }
    }

    @Test
    void concurrentRequestsShareOneTokenFetch() throws Exception {
        try (NettyUpstreamClient c = client(Optional.of(BOB), clock())) {
            int before = hitsSoFar();
            List<CompletableFuture<UpstreamHead>> all = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                all.add(c.headManifest(REPO, Reference.parse("1"), OCI));
            }
            for (CompletableFuture<UpstreamHead> f : all) {
                assertEquals(image.manifestDigest(), ok(f).digest());
            }
            assertEquals(before + 1, hitsSoFar());
        }
    }

    @Test
    void accessTokenFieldIsAcceptedToo() throws Exception {
        tokens.accessTokenField(true);
        try (NettyUpstreamClient c = client(Optional.of(BOB), clock())) {
            assertEquals(image.manifestDigest(), ok(c.headManifest(REPO, Reference.parse("1"), OCI)).digest());
        } finally {
            tokens.accessTokenField(false);
        }
    }

    @Test
    void refusedCredentialsAreUnauthorized() throws Exception {
        try (NettyUpstreamClient c = client(Optional.of(new RegistryCredentials("bob", "wrong")), clock())) {
            try {
                c.getManifest(REPO, Reference.parse("1"), OCI).get(20, TimeUnit.SECONDS);
                throw new AssertionError("expected a failure");
            } catch (ExecutionException e) {
                UpstreamException u = assertInstanceOf(UpstreamException.class, e.getCause());
                assertEquals(Kind.UNAUTHORIZED, u.kind());
                assertTrue(u.getMessage().contains("token endpoint of upstream 'b' refused the credentials of user 'bob'"),
                        u.getMessage());
                assertEquals(1, u.attempts());
            }
        }
    }
}
