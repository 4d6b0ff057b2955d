package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import ocimirror.config.ConfigLoader;
import ocimirror.server.MirrorServer;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.SecuredUpstream;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code credentials: {helper: ...}} against docker-registry over TLS with htpasswd, whose
 * password is rotated while pulls run: the helper answers with the current password, and no pull
 * fails. docker-registry 2.8 (Debian) reloads its htpasswd file when its modification time
 * changes, so the rotation needs no restart: the first request after it is refused (401), the
 * mirror runs the helper again and retries.
 */
class CredentialHelperE2ETest {
    private static final String ACCEPT = "application/vnd.oci.image.manifest.v1+json";
    private static final String PASSWORD = "Rotated-secret-";
    private static final int ROTATIONS = 4;

    @TempDir
    Path tmp;

    @Test
    void pullsSucceedWhileTheUpstreamsPasswordIsRotated() throws Exception {
        Path htpasswdExe = Programs.require("htpasswd", "apache2-utils");
        try (SecuredUpstream upstream = SecuredUpstream.start(tmp, "up", "robot", PASSWORD + 0)) {
            List<TinyImage> images = List.of(TinyImage.write(tmp.resolve("i0"), "1", 3000, 10),
                    TinyImage.write(tmp.resolve("i1"), "1", 4000, 11), TinyImage.write(tmp.resolve("i2"), "1", 5000, 12));
            for (int i = 0; i < images.size(); i++) {
                upstream.registry().push(images.get(i), "team/app" + i + ":1", upstream.pki().certDir(), upstream.creds());
            }
            Path password = Files.writeString(tmp.resolve("password"), PASSWORD + 0);
            Path helper = tmp.resolve("docker-credential-rotating");
            Files.writeString(helper, "#!/bin/sh\n"
                    + "read server; echo \"$server\" > " + tmp.resolve("asked") + "\n"
                    + "echo run >> " + tmp.resolve("runs") + "\n"
                    + "printf '{\"ServerURL\":\"%s\",\"Username\":\"robot\",\"Secret\":\"%s\"}' \"$server\" \"$(cat "
                    + password + ")\"\n");
            Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwx------"));
            Path config = Files.writeString(tmp.resolve("mirror.yaml"), "listen: 127.0.0.1:0\n"
                    + "data: " + tmp.resolve("data") + "\n"
                    + "tls: {mode: off}\n"
                    + "upstreams:\n"
                    + "  - name: up\n"
                    + "    url: " + upstream.registry().url() + "\n"
                    + "    aliases: [up.test]\n"
                    + "    caCert: " + upstream.pki().caCert() + "\n"
                    + "    tagTtl: 0s\n"                 // every manifest pull asks the upstream
                    + "    credentials: {helper: " + helper + ", lifetime: 10m}\n"
                    + "pullThrough: {prefetchLayers: false}\n");

            Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
            ListAppender<ILoggingEvent> log = new ListAppender<>();
            log.setContext(root.getLoggerContext());
            log.start();
            root.addAppender(log);
            Logger helperLog = (Logger) LoggerFactory.getLogger("ocimirror.server.upstream");
            helperLog.setLevel(ch.qos.logback.classic.Level.DEBUG); // the runs' lines are checked for secrets too
            ExecutorService pullers = Executors.newFixedThreadPool(3);
            try (MirrorServer mirror = MirrorServer.start(ConfigLoader.load(config))) {
                RegistryClient client = new RegistryClient(URI.create("http://127.0.0.1:" + mirror.localAddress().getPort()));
                AtomicBoolean rotating = new AtomicBoolean(true);
                AtomicInteger pulls = new AtomicInteger();
                ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
                List<Future<?>> running = new java.util.ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    running.add(pullers.submit(() -> {
                        for (int n = 0; rotating.get() || n < images.size(); n++) {
                            int i = n % images.size();
                            pull(client, "team/app" + i, images.get(i), failures);
                            pulls.incrementAndGet();
                        }
                    }));
                }
                // Rotate: the helper's source first, then the registry's file (a helper run in
                // between answers a password the registry does not want yet, but nothing asks it
                // then: only a refusal, which comes after the registry changed, runs it).
                for (int r = 1; r <= ROTATIONS; r++) {
                    Thread.sleep(1000);
                    replace(password, PASSWORD + r);
                    replace(upstream.registry().dir().resolve("htpasswd"),
                            Programs.run(htpasswdExe.toString(), "-Bbn", "robot", PASSWORD + r));
                }
                Thread.sleep(1000);
                rotating.set(false);
                for (Future<?> f : running) {
                    f.get();
                }
                long runs = Files.readAllLines(tmp.resolve("runs")).size();
                assertTrue(failures.isEmpty(), failures.size() + " of " + pulls.get() + " pulls failed (" + runs
                        + " helper runs), the first: " + failures.stream().limit(2).toList() );
                assertTrue(runs >= 3 && runs <= ROTATIONS + 1, "the helper ran once at first and at most once per"
                        + " rotation, not once per refused request: " + runs + " runs, " + pulls.get() + " pulls");
                assertEquals(upstream.registry().hostPort() + "\n", Files.readString(tmp.resolve("asked")));
                assertTrue(upstream.registry().log().stream().anyMatch(l -> l.contains("\" 401 ")),
                        "the upstream refused the old password at least once");
            } finally {
                pullers.shutdownNow();
                root.detachAppender(log);
                helperLog.setLevel(null);
            }
            for (ILoggingEvent e : log.list) {
                assertFalse(e.getFormattedMessage().contains(PASSWORD), e.getFormattedMessage());
            }
        }
    }

    private static void pull(RegistryClient client, String repo, TinyImage image, ConcurrentLinkedQueue<String> failures) {
        HttpResponse<byte[]> m = client.send(client.request("/v2/" + repo + "/manifests/1?ns=up.test")
                .header("Accept", ACCEPT).build());
        if (m.statusCode() != 200) {
            failures.add(repo + " manifest: " + RegistryClient.describe(m));
            return;
        }
        assertArrayEquals(image.manifest(), m.body());
        for (var blob : List.of(image.configDigest(), image.layerDigest())) {
            HttpResponse<byte[]> b = client.get("/v2/" + repo + "/blobs/" + blob + "?ns=up.test");
            if (b.statusCode() != 200) {
                failures.add(repo + " blob " + blob + ": " + RegistryClient.describe(b));
            }
        }
    }

    /** Replaces {@code file} at once, as a secret mount or an operator's script would. */
    private static void replace(Path file, String content) throws Exception {
        Path next = Files.writeString(file.resolveSibling(file.getFileName() + ".next"), content);
        Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
