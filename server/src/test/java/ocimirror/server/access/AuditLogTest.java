package ocimirror.server.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import ocimirror.config.ObservabilityConfig;
import ocimirror.server.pullthrough.CacheResult;
import ocimirror.server.route.OciRouteParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit log's lines, which requests it is about, and its rotation, written to real files. */
class AuditLogTest {
    static final String DIGEST = "sha256:" + "ab".repeat(32);
    final Clock clock = Clock.fixed(Instant.parse("2026-12-07T10:00:00.500Z"), ZoneOffset.UTC);
    final OciRouteParser parser = new OciRouteParser();
    @TempDir
    Path dir;

    private RequestRecord record(HttpMethod method, String uri) {
        RequestRecord r = new RequestRecord(new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri), 0, "req-1",
                "10.0.0.5:43122");
        r.parsed(parser.parseRequest(uri));
        return r;
    }

    @Test
    void oneJsonLinePerManifestGetWithWhoAskedForWhatAndWhatTheyGot() throws Exception {
        Path file = dir.resolve("audit.log");
        AuditLog audit = AuditLog.open(new ObservabilityConfig.Audit(file, false, 1 << 20, 2), clock);
        RequestRecord r = record(HttpMethod.GET, "/v2/library/nginx/manifests/latest?ns=docker.io");
        r.user("node");
        r.upstream("docker.io");
        r.cache(CacheResult.HIT);
        r.status = 200;
        r.bytes = 1234;
        r.digest = DIGEST;
        assertTrue(audit.wants(r));
        audit.log(r, 250_000_000L, false);
        RequestRecord blob = record(HttpMethod.GET, "/v2/library/nginx/blobs/" + DIGEST);
        assertFalse(audit.wants(blob), "blob GETs only with blobs: true");
        assertFalse(audit.wants(record(HttpMethod.HEAD, "/v2/library/nginx/manifests/latest")), "a HEAD pulls nothing");
        assertFalse(audit.wants(record(HttpMethod.GET, "/v2/library/nginx/tags/list")));
        RequestRecord refused = record(HttpMethod.GET, "/v2/team/app/manifests/" + DIGEST);
        refused.status = 401;
        audit.log(refused, 1_000_000L, true);
        audit.close();

        List<String> lines = Files.readAllLines(file);
        assertEquals(2, lines.size(), lines.toString());
        JsonNode line = JsonMapper.builder().build().readTree(lines.get(0));
        assertEquals("2026-12-07T10:00:00.250Z", line.get("time").asText(), "the arrival");
        assertEquals("10.0.0.5:43122", line.get("client").asText());
        assertEquals("node", line.get("user").asText());
        assertEquals("GET", line.get("method").asText());
        assertEquals("library/nginx", line.get("name").asText());
        assertEquals("latest", line.get("reference").asText());
        assertEquals("docker.io", line.get("ns").asText());
        assertEquals("docker.io", line.get("upstream").asText());
        assertEquals(DIGEST, line.get("digest").asText());
        assertEquals("hit", line.get("cache").asText());
        assertEquals(200, line.get("status").asInt());
        assertEquals(1234, line.get("bytes").asLong());
        assertEquals("req-1", line.get("request_id").asText());
        assertFalse(line.has("aborted"));
        JsonNode second = JsonMapper.builder().build().readTree(lines.get(1));
        assertTrue(second.get("user").isNull() && second.get("upstream").isNull() && second.get("digest").isNull(),
                lines.get(1));
        assertEquals(DIGEST, second.get("reference").asText());
        assertEquals(401, second.get("status").asInt());
        assertTrue(second.get("aborted").asBoolean());
    }

    @Test
    void blobGetsWhenAskedFor() throws Exception {
        Path file = dir.resolve("audit.log");
        AuditLog audit = AuditLog.open(new ObservabilityConfig.Audit(file, true, 1 << 20, 2), clock);
        RequestRecord blob = record(HttpMethod.GET, "/v2/library/nginx/blobs/" + DIGEST);
        assertTrue(audit.wants(blob));
        audit.log(blob, 0, false);
        audit.close();
        JsonNode line = JsonMapper.builder().build().readTree(Files.readAllLines(file).get(0));
        assertEquals(DIGEST, line.get("reference").asText());
    }

    @Test
    void rotatesBySizeAndKeepsAtMostKeepFiles() throws Exception {
        Path file = dir.resolve("audit.log");
        AuditLog audit = AuditLog.open(new ObservabilityConfig.Audit(file, false, 1024, 2), clock,
                java.time.Duration.ofMillis(10));
        RequestRecord r = record(HttpMethod.GET, "/v2/library/nginx/manifests/latest");
        for (int burst = 0; burst < 6; burst++) {
            for (int i = 0; i < 10; i++) {
                audit.log(r, 0, false);
            }
            Thread.sleep(100); // the size is looked at no more often than every 10 ms here
        }
        audit.close();
        assertTrue(Files.exists(dir.resolve("audit.log.1")), "rotated");
        assertTrue(Files.exists(dir.resolve("audit.log.2")));
        assertFalse(Files.exists(dir.resolve("audit.log.3")), "keep: 2");
        assertTrue(Files.size(dir.resolve("audit.log.1")) < 10 * 1024, "each file near maxSize");
    }
}
