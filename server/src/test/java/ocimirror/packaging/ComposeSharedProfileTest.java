package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.config.SharedBackends;
import ocimirror.config.TlsConfig;
import ocimirror.packaging.ComposeTest.Mount;
import ocimirror.testing.Commands;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/compose.yaml's shared profile without Docker: two replicas of the mirror's image, each
 * on its own port and local tier, whose config (docker/config/shared.yaml) loads as shared
 * backends naming the postgres and s3 services with the credentials those services are given; and
 * the shared-ca service's script, run here with its folders moved, makes one CA (once) that both
 * replicas issue their certificates from.
 */
class ComposeSharedProfileTest {
    private static final Path DOCKER = DockerFolder.docker();
    private static final JsonNode COMPOSE = DockerFolder.yaml(DOCKER.resolve("compose.yaml"));
    private static final Dockerfile DOCKERFILE = Dockerfile.read(DOCKER.resolve("Dockerfile"));
    private static final List<String> REPLICAS = List.of("ocimirror-a", "ocimirror-b");
    private static final List<String> CMD = DOCKERFILE.runtime().last("CMD").execForm();

    @TempDir
    Path tmp;

    @Test
    void twoReplicasOfTheMirrorsImageOnTheirOwnPortsAndLocalTiers() {
        JsonNode single = service("ocimirror");
        String port = DOCKERFILE.runtime().last("EXPOSE").arguments().trim();
        Set<String> hostPorts = new HashSet<>(Set.of(port));
        Set<String> dataVolumes = new HashSet<>(Set.of(Mount.at(single, DockerfileTest.after(CMD, "--data")).source()));
        for (String name : REPLICAS) {
            JsonNode r = service(name);
            assertEquals(List.of("shared"), texts(r.path("profiles")), name + " runs in the shared profile only");
            assertEquals(single.path("image"), r.path("image"), name + " is the mirror's image");
            assertEquals(single.path("build"), r.path("build"));
            List<String> ports = texts(r.path("ports"));
            assertEquals(1, ports.size(), name + ": " + ports);
            assertTrue(ports.get(0).endsWith(":" + port) && hostPorts.add(ports.get(0).split(":")[0]),
                    name + " publishes the image's port on a host port of its own: " + ports);
            Mount data = Mount.at(r, DockerfileTest.after(CMD, "--data"));
            assertFalse(data.isBind());
            assertTrue(COMPOSE.path("volumes").has(data.source()) && dataVolumes.add(data.source()),
                    name + ": a declared data volume of its own (its local tier): " + data.source());
            Mount config = Mount.at(r, DockerfileTest.after(CMD, "--config"));
            assertEquals(DOCKER.resolve("config/shared.yaml"), DOCKER.resolve(config.source()).normalize());
            assertTrue(config.readOnly());
            assertTrue(r.has("mem_limit") && r.has("stop_grace_period"), name + " stops and sizes itself as ocimirror");
            for (String f : List.of("environment", "secrets", "healthcheck", "depends_on")) {
                assertEquals(service(REPLICAS.get(0)).path(f), r.path(f), name + " is set up as " + REPLICAS.get(0) + ": " + f);
            }
        }
    }

    @Test
    void theReplicasConfigReachesThePostgresAndS3ServicesWithTheirCredentials() throws Exception {
        JsonNode replica = service(REPLICAS.get(0));
        MirrorConfig config = replicaConfig(replica, Files.createDirectories(tmp.resolve("ca")));
        SharedBackends shared = config.shared();
        assertNotNull(shared, "storage.s3 and metadata.postgres: shared mode");
        assertEquals(Path.of(DockerfileTest.after(CMD, "--data")), config.dataDir());

        JsonNode s3 = service("s3");
        assertEquals(List.of("shared"), texts(s3.path("profiles")));
        assertTrue(s3.path("image").asText().matches("andrewgaul/s3proxy:\\d+\\.\\d+\\.\\d+"), "a released s3proxy");
        URI endpoint = shared.s3().endpoint();
        assertEquals("s3", endpoint.getHost(), "the s3 service");
        assertEquals(URI.create(env(s3, "S3PROXY_ENDPOINT")).getPort(), endpoint.getPort(), "the port s3proxy listens on");
        assertTrue(shared.s3().pathStyle(), "s3proxy without a virtual host takes the bucket in the path");
        String baseDir = env(s3, "JCLOUDS_FILESYSTEM_BASEDIR");
        assertEquals("s3-data", Mount.at(s3, baseDir).source());
        assertTrue(texts(s3.path("entrypoint")).get(2).contains("mkdir -p " + baseDir + "/" + shared.s3().bucket() + " "),
                "the bucket exists before the replicas use it");
        assertEquals(env(s3, "S3PROXY_IDENTITY"), env(replica, "AWS_ACCESS_KEY_ID"));
        assertEquals(env(s3, "S3PROXY_CREDENTIAL"), env(replica, "AWS_SECRET_ACCESS_KEY"));

        JsonNode pg = service("postgres");
        assertEquals(List.of("shared"), texts(pg.path("profiles")));
        assertTrue(pg.path("image").asText().matches("postgres:\\d+"), "the official image, a major version");
        assertEquals("jdbc:postgresql://postgres:5432/" + env(pg, "POSTGRES_DB"), shared.postgres().url());
        assertEquals(env(pg, "POSTGRES_USER"), shared.postgres().user());
        String secret = texts(replica.path("secrets")).get(0);
        assertEquals(List.of(secret), texts(pg.path("secrets")));
        assertEquals("/run/secrets/" + secret, env(pg, "POSTGRES_PASSWORD_FILE"), "PostgreSQL's password is the replicas'");
        assertEquals(composeSecret(secret), shared.postgres().passwordFile());
        // PostgreSQL's default max_connections is 100: each replica takes its pool and one listener.
        assertTrue(REPLICAS.size() * (shared.postgres().maxConnections() + 1) <= 100);

        assertEquals("service_healthy", replica.at("/depends_on/postgres/condition").asText());
        assertFalse(replica.at("/depends_on/s3").isMissingNode());
        assertEquals("service_completed_successfully", replica.at("/depends_on/shared-ca/condition").asText());
        List<String> check = texts(replica.at("/healthcheck/test"));
        assertEquals("/etc/ocimirror-ca/ca.crt", DockerfileTest.after(check, "--cacert"),
                "the health check trusts the given CA, not <data>/pki/ca.crt (there is none)");
        assertTrue(check.get(check.size() - 1).startsWith("https://localhost:" + config.listen().port() + "/healthz"));
        assertEquals(DockerFolder.routing(DockerFolder.imageConfig()), DockerFolder.routing(config),
                "the replicas proxy what the single node proxies");
    }

    @Test
    void theSharedCaServiceMakesOneCaOnceThatBothReplicasIssueFrom() throws Exception {
        Commands.require("openssl", "openssl");
        JsonNode ca = service("shared-ca");
        assertEquals(List.of("shared"), texts(ca.path("profiles")));
        assertEquals(service("ocimirror").path("image"), ca.path("image"), "the mirror's image, which has openssl");
        List<String> command = new ArrayList<>(texts(ca.path("entrypoint")));
        command.addAll(texts(ca.path("command")));
        assertEquals(List.of("/bin/sh", "-c"), command.subList(0, 2));
        String script = command.get(2).replace("$$", "$"); // Compose's escape for a literal $
        String caDir = env(ca, "CA_DIR");
        String exportDir = env(ca, "EXPORT_DIR");
        assertEquals("shared-ca", Mount.at(ca, caDir).source());
        assertEquals("./trust", Mount.at(ca, exportDir).source(), "the folder ca-export writes the clients' CA to");
        String[] image = DOCKERFILE.runtime().last("USER").arguments().trim().split(":");
        assertEquals(image[0] + ":" + image[1], env(ca, "OWNER"), "the key belongs to the mirror's user");

        Path dir = Files.createDirectories(tmp.resolve("ca"));
        Path export = Files.createDirectories(tmp.resolve("trust"));
        String owner = Commands.check("id", "-u").trim() + ":" + Commands.check("id", "-g").trim();
        for (int run = 0; run < 2; run++) {
            Commands.Result r = Commands.run(Duration.ofSeconds(60), "/usr/bin/env", "CA_DIR=" + dir,
                    "EXPORT_DIR=" + export, "OWNER=" + owner, "/bin/sh", "-c", script);
            assertEquals(0, r.exit(), r.output());
        }
        byte[] first = Files.readAllBytes(dir.resolve("ca.crt"));
        assertArrayEquals(first, Files.readAllBytes(export.resolve("shared-ca.crt")), "the clients get the CA");
        assertEquals("r--------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.key"))));
        Commands.check("/usr/bin/env", "CA_DIR=" + dir, "EXPORT_DIR=" + export, "OWNER=" + owner, "/bin/sh", "-c", script);
        assertArrayEquals(first, Files.readAllBytes(dir.resolve("ca.crt")), "a re-run keeps the CA the clients trust");

        MirrorConfig config = replicaConfig(service(REPLICAS.get(0)), dir);
        assertEquals(TlsConfig.Mode.FILES, config.tls().mode());
        String inContainer = DockerFolder.yaml(DOCKER.resolve("config/shared.yaml")).at("/tls/caCertFile").asText();
        for (String name : REPLICAS) {
            String caMount = Path.of(inContainer).getParent().toString();
            assertEquals(new Mount("shared-ca", caMount, true), Mount.at(service(name), caMount), name + " reads the CA");
            assertTrue(config.tls().hostNames().contains(name), "the certificates cover " + name);
        }
        DockerFolder.assertEveryReplicaIssuesFrom(config.tls().caCertFile(), config.tls().caKeyFile(),
                config.tls().hostNames(), tmp);
    }

    /**
     * docker/config/shared.yaml as {@code replica} reads it: Compose secrets at /run/secrets are
     * their files under docker/, and the shared-ca volume is {@code caDir} (empty files when the
     * CA was not made there).
     */
    private static MirrorConfig replicaConfig(JsonNode replica, Path caDir) throws Exception {
        String text = Files.readString(DOCKER.resolve(Mount.at(replica, DockerfileTest.after(CMD, "--config")).source()));
        for (String secret : texts(replica.path("secrets"))) {
            text = text.replace("/run/secrets/" + secret, composeSecret(secret).toString());
        }
        String caMount = Mount.of(replica).stream().filter(m -> m.source().equals("shared-ca")).findFirst()
                .orElseThrow(() -> new AssertionError("the replica mounts the shared CA")).target();
        for (String f : List.of("ca.crt", "ca.key")) {
            if (!Files.exists(caDir.resolve(f))) {
                Files.createFile(caDir.resolve(f));
            }
            text = text.replace(caMount + "/" + f, caDir.resolve(f).toString());
        }
        return ConfigLoader.parse(text, "docker/config/shared.yaml", false, DOCKER.resolve("config"));
    }

    /** The file a top-level Compose secret is made of. */
    private static Path composeSecret(String name) {
        String file = DockerFolder.at(COMPOSE, "/secrets/" + name + "/file", "compose.yaml secrets").asText();
        Path p = DOCKER.resolve(file).normalize();
        assertTrue(Files.isRegularFile(p), p + " exists");
        return p;
    }

    private static String env(JsonNode service, String name) {
        JsonNode v = service.at("/environment/" + name);
        assertTrue(v.isValueNode(), name + " is set in " + service.path("image").asText());
        return v.asText();
    }

    private static JsonNode service(String name) {
        return DockerFolder.at(COMPOSE.get("services"), "/" + name, "compose.yaml services");
    }

    private static List<String> texts(JsonNode array) {
        return KubernetesManifestsTest.texts(array);
    }
}
