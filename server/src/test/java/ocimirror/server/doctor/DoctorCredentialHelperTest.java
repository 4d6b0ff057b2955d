package ocimirror.server.doctor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.config.CredentialSource;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.doctor.Check.Status;
import ocimirror.server.upstream.NettyUpstreamClient;
import ocimirror.testing.DockerRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** A credential helper in {@code doctor}: run, its answer checked, its failure reported without its output. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DoctorCredentialHelperTest {
    private static final String PASSWORD = "helper-pw-42";

    Path tmp;
    DockerRegistry registry;
    EventLoopGroup group;

    @BeforeAll
    void start(@TempDir Path base) throws Exception {
        tmp = base;
        registry = DockerRegistry.builder(tmp.resolve("r")).htpasswd("robot", PASSWORD).start();
        group = NettyUpstreamClient.newEventLoopGroup(1);
    }

    @AfterAll
    void stop() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (registry != null) {
            registry.close();
        }
    }

    private Path helper(String name, String body) throws Exception {
        Path p = tmp.resolve("docker-credential-" + name);
        Files.writeString(p, "#!/bin/sh\necho run >> " + tmp.resolve(name + ".runs") + "\n" + body + "\n");
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        return p;
    }

    private List<Check> doctor(Path helper) {
        UpstreamConfig u = UpstreamConfig.builder("a", registry.url()).plainHttp(true)
                .credentials(new CredentialSource.Helper(helper.toString(), helper, Duration.ofMinutes(10))).build();
        List<Check> checks = new ArrayList<>();
        Clock clock = Clock.systemUTC();
        new Doctor(List.of(u), new Doctor.Options(Optional.empty(), Duration.ofSeconds(5), Optional.empty(), null,
                false, List.of()), clock, c -> NettyUpstreamClient.create(c, group, clock)).run(checks::add);
        return checks;
    }

    @Test
    void aHelperThatAnswersIsRunAndItsAnswerChecked() throws Exception {
        Path good = helper("good", "echo '{\"Username\":\"robot\",\"Secret\":\"" + PASSWORD + "\"}'");
        List<Check> checks = doctor(good);
        Check ran = checks.stream().filter(c -> c.subject().equals("upstream 'a' credential helper")).findFirst()
                .orElseThrow(() -> new AssertionError(checks.toString()));
        assertEquals(Status.OK, ran.status());
        assertTrue(ran.message().contains("answered for " + registry.hostPort() + " (user 'robot')"), ran.message());
        Check creds = checks.stream().filter(c -> c.subject().equals("upstream 'a' credentials")).findFirst().orElseThrow();
        assertEquals(Status.OK, creds.status(), creds.toString());
        assertFalse(checks.toString().contains(PASSWORD));
    }

    @Test
    void aFailingHelperIsAFailureNamingItWithoutItsOutput() throws Exception {
        Path bad = helper("bad", "echo 'no credentials for you: " + PASSWORD + "'; exit 1");
        List<Check> checks = doctor(bad);
        Check creds = checks.stream().filter(c -> c.subject().equals("upstream 'a' credentials")).findFirst()
                .orElseThrow(() -> new AssertionError(checks.toString()));
        assertEquals(Status.FAIL, creds.status());
        assertTrue(creds.message().contains("credential helper '" + bad + "'")
                && creds.message().contains("exited with status 1"), creds.message());
        assertTrue(creds.fix().contains("echo " + registry.hostPort() + " | " + bad + " get"), creds.fix());
        assertFalse(checks.toString().contains(PASSWORD), checks.toString());
    }
}
