package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.config.CredentialSource;
import ocimirror.config.CredentialsException;
import ocimirror.config.UpstreamConfig;
import ocimirror.config.UpstreamUrl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpstreamClientsTest {

    private EventLoopGroup group;

    @BeforeEach
    void start() {
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void oneClientPerUpstreamByName() {
        try (UpstreamClients clients = UpstreamClients.create(List.of(
                UpstreamConfig.builder("hub", "https://registry-1.docker.io").isDefault(true).build(),
                UpstreamConfig.builder("ghcr", "https://ghcr.io").build()), group, Clock.systemUTC(),
                UpstreamClientOptions.defaults())) {
            assertEquals("hub", clients.get("hub").orElseThrow().name());
            assertEquals("ghcr", clients.get("ghcr").orElseThrow().name());
            assertEquals(Optional.empty(), clients.get("quay"));
            assertEquals(2, clients.all().size());
        }
    }

    @Test
    void unreadableCredentialsFailAtCreationNamingUpstreamAndFile(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, "{\"auths\": {\"other.test\": {\"auth\": \"dTpw\"}}}");
        UpstreamConfig u = UpstreamConfig.builder("a", "https://reg.test:5000")
                .credentials(new CredentialSource.DockerConfig(cfg)).build();
        CredentialsException e = assertThrows(CredentialsException.class,
                () -> UpstreamClients.create(List.of(u), group, Clock.systemUTC(), UpstreamClientOptions.defaults()));
        assertTrue(e.getMessage().contains("upstream 'a'") && e.getMessage().contains(cfg.toString()), e.getMessage());
    }

    @Test
    void badCaCertFailsAtCreation(@TempDir Path dir) throws Exception {
        Path ca = dir.resolve("ca.pem");
        Files.writeString(ca, "not a certificate\n");
        UpstreamConfig u = UpstreamConfig.builder("a", "https://reg.test").caCert(ca).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UpstreamClients.create(List.of(u), group, Clock.systemUTC(), UpstreamClientOptions.defaults()));
        assertTrue(e.getMessage().contains("upstream 'a'") && e.getMessage().contains(ca.toString()), e.getMessage());
    }

    @Test
    void duplicateNamesAreRefused() {
        UpstreamConfig u = UpstreamConfig.builder("a", "https://reg.test").build();
        assertThrows(IllegalArgumentException.class,
                () -> UpstreamClients.create(List.of(u, u), group, Clock.systemUTC(), UpstreamClientOptions.defaults()));
    }

    @Test
    void theUrlsOfAnUpstreamShareItsOneLimiter() {
        UpstreamConfig u = UpstreamConfig.builder("corp", "https://mirror.corp.test").maxConnections(2)
                .failover(new UpstreamUrl(URI.create("https://registry-1.docker.io"), null, CredentialSource.none()))
                .build();
        try (UpstreamClients clients = UpstreamClients.create(List.of(u,
                UpstreamConfig.builder("ghcr", "https://ghcr.io").build()), group, Clock.systemUTC(),
                UpstreamClientOptions.defaults())) {
            assertEquals(List.of("corp", "ghcr"), clients.limiters().stream().map(UpstreamLimiter::upstream).sorted()
                    .toList(), "one limiter per upstream, not per URL");
            FailoverUpstreamClient failover = (FailoverUpstreamClient) clients.get("corp").orElseThrow();
            for (UpstreamClient url : failover.urlClients()) {
                assertSame(failover.limiter(), ((NettyUpstreamClient) url).limiter(),
                        "maxConnections is the upstream's: every URL takes its turns from one queue");
            }
        }
    }
}
