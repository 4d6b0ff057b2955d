package ocimirror.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import ocimirror.config.AuthConfig;
import ocimirror.config.MirrorConfig;
import ocimirror.config.ObservabilityConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.UpstreamConfig;
import ocimirror.testing.Commands;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.RegistryClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit log of a wired server with client authentication, pulling through from another
 * ocimirror: a line per manifest GET with the user, the name asked for, the upstream, the digest
 * served and what the cache did; refused GETs too; nothing for HEADs and blobs.
 */
class MirrorServerAuditTest {
    @TempDir
    Path dir;

    @Test
    void everyManifestGetIsAuditedWithWhoAndWhat() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        Path htpasswd = dir.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", htpasswd.toString(), "node", "node-pw");
        MirrorConfig upstreamConfig = MirrorConfig.defaults().withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(dir.resolve("upstream")).withTls(TlsConfig.off());
        Path audit = dir.resolve("logs/audit.log");
        Files.createDirectories(audit.getParent());
        try (MirrorServer upstream = MirrorServer.start(upstreamConfig)) {
            RegistryClient up = new RegistryClient("127.0.0.1:" + upstream.localAddress().getPort());
            byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(UTF_8);
            String configDigest = OciLayoutBuilder.sha256Digest(config);
            up.pushBlob("team/app", config, configDigest);
            byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + OciLayoutBuilder.OCI_MANIFEST + "\","
                    + "\"config\":{\"mediaType\":\"" + OciLayoutBuilder.OCI_CONFIG + "\",\"digest\":\"" + configDigest
                    + "\",\"size\":" + config.length + "},\"layers\":[]}").getBytes(UTF_8);
            assertEquals(201, up.putManifest("team/app", "v1", OciLayoutBuilder.OCI_MANIFEST, manifest).statusCode());
            String manifestDigest = OciLayoutBuilder.sha256Digest(manifest);

            MirrorConfig mirrorConfig = MirrorConfig.defaults().withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                    .withDataDir(dir.resolve("mirror")).withTls(TlsConfig.off())
                    .withRouting(List.of(UpstreamConfig.builder("up", "http://127.0.0.1:" + upstream.localAddress().getPort())
                            .plainHttp(true).isDefault(true).build()), List.of())
                    .withAuth(new AuthConfig(htpasswd, "mirror", Map.of(), null))
                    .withObservability(new ObservabilityConfig(ObservabilityConfig.Metrics.defaults(),
                            new ObservabilityConfig.Log(ObservabilityConfig.LogFormat.TEXT,
                                    new ObservabilityConfig.Audit(audit, false, 1 << 20, 2))));
            try (MirrorServer mirror = MirrorServer.start(mirrorConfig)) {
                RegistryClient m = new RegistryClient("127.0.0.1:" + mirror.localAddress().getPort());
                String node = "Basic " + Base64.getEncoder().encodeToString("node:node-pw".getBytes(UTF_8));
                for (int i = 0; i < 2; i++) {
                    HttpResponse<byte[]> r = m.send(m.request("/v2/team/app/manifests/v1")
                            .header("Authorization", node).header("Accept", OciLayoutBuilder.OCI_MANIFEST).build());
                    assertEquals(200, r.statusCode(), RegistryClient.describe(r));
                }
                assertEquals(200, m.send(m.request("/v2/team/app/manifests/v1").header("Authorization", node)
                        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build()).statusCode());
                assertEquals(200, m.send(m.request("/v2/team/app/blobs/" + configDigest)
                        .header("Authorization", node).build()).statusCode());
                assertEquals(401, m.send(m.request("/v2/team/app/manifests/" + manifestDigest).build()).statusCode());
            }
            // Closed: what was queued is written.
            List<String> lines = Files.readAllLines(audit);
            assertEquals(3, lines.size(), "two GETs and a refused one; no HEAD, no blob: " + lines);
            JsonMapper json = JsonMapper.builder().build();
            JsonNode miss = json.readTree(lines.get(0));
            JsonNode hit = json.readTree(lines.get(1));
            JsonNode refused = json.readTree(lines.get(2));
            for (JsonNode pulled : List.of(miss, hit)) {
                assertEquals("node", pulled.get("user").asText());
                assertEquals("team/app", pulled.get("name").asText());
                assertEquals("v1", pulled.get("reference").asText());
                assertEquals("up", pulled.get("upstream").asText());
                assertEquals(manifestDigest, pulled.get("digest").asText());
                assertEquals(200, pulled.get("status").asInt());
                assertEquals(manifest.length, pulled.get("bytes").asInt());
                assertTrue(pulled.get("client").asText().startsWith("127.0.0.1:"), pulled.toString());
            }
            assertEquals("miss", miss.get("cache").asText());
            assertEquals("hit", hit.get("cache").asText());
            assertTrue(refused.get("user").isNull(), refused.toString());
            assertEquals(401, refused.get("status").asInt());
            assertEquals(manifestDigest, refused.get("reference").asText());
            assertTrue(refused.get("digest").isNull(), refused.toString());
        }
    }
}
