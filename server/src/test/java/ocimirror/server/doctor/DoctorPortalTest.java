package ocimirror.server.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.doctor.Check.Status;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.testing.PortalNginx;
import ocimirror.testing.PortalNginx.Mode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** {@code doctor} in front of an upstream whose manifests are a captive portal's page (nginx). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DoctorPortalTest {
    PortalNginx portal;
    EventLoopGroup group;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        portal = PortalNginx.start(dir.resolve("nginx"));
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterAll
    void stop() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (portal != null) {
            portal.close();
        }
    }

    private List<Check> doctor() {
        List<Check> checks = new ArrayList<>();
        Clock clock = Clock.systemUTC();
        UpstreamConfig u = UpstreamConfig.builder("a", portal.url()).plainHttp(true).build();
        new Doctor(List.of(u), new Doctor.Options(Optional.empty(), Duration.ofSeconds(5), Optional.of("team/app:1"),
                null, false, List.of()), clock, c -> NettyUpstreamClient.create(c, group, clock)).run(checks::add);
        return checks;
    }

    @Test
    void anHtmlAnswerToTheManifestHeadFailsNamingWhatCame() throws Exception {
        portal.mode(Mode.HTML);
        try {
            List<Check> checks = doctor();
            Check last = checks.get(checks.size() - 1);
            assertEquals("upstream 'a' manifest", last.subject(), checks.toString());
            assertEquals(Status.FAIL, last.status(), checks.toString());
            assertEquals("HEAD team/app:1 answered text/html, not a manifest", last.message());
            assertTrue(last.fix().contains("captive portal"), last.fix());
            assertEquals(1, checks.stream().filter(c -> c.status() == Status.FAIL).count(), checks.toString());
        } finally {
            portal.mode(Mode.REGISTRY);
        }
    }

    @Test
    void aManifestAnswerPasses() throws Exception {
        portal.manifest("team/app", "1", "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8));
        List<Check> checks = doctor();
        Check last = checks.get(checks.size() - 1);
        assertEquals(Status.OK, last.status(), checks.toString());
        assertTrue(last.message().contains("(application/vnd.oci.image.manifest.v1+json)"), last.message());
    }
}
