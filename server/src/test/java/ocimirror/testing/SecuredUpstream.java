package ocimirror.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import ocimirror.config.CredentialSource;
import ocimirror.config.UpstreamConfig;

/**
 * An upstream a mirror must present credentials to: docker-registry on 127.0.0.1 serving TLS with
 * a certificate from its own test CA and wanting Basic auth (htpasswd), plus the Docker
 * {@code config.json} holding those credentials, as an operator would mount a Kubernetes
 * {@code dockerconfigjson} secret for the mirror.
 */
public final class SecuredUpstream implements AutoCloseable {
    private final TestPki pki;
    private final DockerRegistry registry;
    private final String user;
    private final String password;
    private final Path dockerConfig;

    private SecuredUpstream(TestPki pki, DockerRegistry registry, String user, String password, Path dockerConfig) {
        this.pki = pki;
        this.registry = registry;
        this.user = user;
        this.password = password;
        this.dockerConfig = dockerConfig;
    }

    /** Starts it under {@code dir}: its CA in {@code pki}, the registry in {@code name}, the config.json beside. */
    public static SecuredUpstream start(Path dir, String name, String user, String password)
            throws IOException, InterruptedException {
        TestPki pki = TestPki.create(dir.resolve("pki"));
        DockerRegistry registry = DockerRegistry.builder(dir.resolve(name))
                .tls(pki.server(name, "IP:127.0.0.1,DNS:localhost"))
                .htpasswd(user, password)
                .start();
        try {
            // What `docker login` writes: auths keyed by host:port, "auth" = base64(user:password).
            Path dockerConfig = Files.writeString(dir.resolve("docker-config.json"), "{\"auths\":{\""
                    + registry.hostPort() + "\":{\"auth\":\"" + base64(user + ":" + password) + "\"}}}");
            return new SecuredUpstream(pki, registry, user, password, dockerConfig);
        } catch (IOException | RuntimeException e) {
            registry.close();
            throw e;
        }
    }

    public static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    public TestPki pki() {
        return pki;
    }

    public DockerRegistry registry() {
        return registry;
    }

    /** {@code user:password}, as skopeo's {@code --creds} takes it. */
    public String creds() {
        return user + ":" + password;
    }

    public Path dockerConfig() {
        return dockerConfig;
    }

    /** The mirror's upstream entry for it, trusting its CA and reading the config.json; the caller adds the rest. */
    public UpstreamConfig.Builder upstreamConfig(String name) {
        return UpstreamConfig.builder(name, registry.url())
                .caCert(pki.caCert())
                .credentials(new CredentialSource.DockerConfig(dockerConfig));
    }

    @Override
    public void close() {
        registry.close();
    }
}
