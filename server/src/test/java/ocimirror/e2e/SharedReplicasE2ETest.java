package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.s3.S3ProxyServer;
import ocimirror.storage.testing.PgDatabase;
import ocimirror.storage.testing.PostgresExtension;
import ocimirror.testing.Containerd;
import ocimirror.testing.OciLayoutBuilder;
import ocimirror.testing.Programs;
import ocimirror.testing.RegistryClient;
import ocimirror.testing.SecuredUpstream;
import ocimirror.testing.ServeProcess;
import ocimirror.testing.Skopeo;
import ocimirror.testing.TinyImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three {@code serve} replicas (separate JVMs, each its own data directory) sharing one cache: the
 * blobs in s3proxy (a real S3 API, in this JVM) and the metadata in a throw-away PostgreSQL, in
 * front of a {@code docker-registry} upstream over TLS with htpasswd. What a push or a pull through
 * one replica leaves is served by the others (skopeo, and containerd's ctr where it can run): the
 * same digests, a moved tag within a second, and a
 * blob one replica pulled through served by another from S3, with no new upstream request and
 * without that replica's tier holding it first. One setup for all of it: three JVMs are costly.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SharedReplicasE2ETest {
    @RegisterExtension
    static final PostgresExtension POSTGRES = new PostgresExtension();

    private static final String BUCKET = "mirror";

    @TempDir
    Path tmp;

    @Test
    void threeReplicasShareOneCache() throws Exception {
        Programs.require("skopeo");
        Programs.require("docker-registry");
        PgDatabase db = POSTGRES.newDatabase();
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        TinyImage pulled = TinyImage.write(tmp.resolve("upstream-image"), "v1", 256 << 10, 71);
        TinyImage first = TinyImage.write(tmp.resolve("first"), "v1", 64 << 10, 72);
        TinyImage second = TinyImage.write(tmp.resolve("second"), "v1", 64 << 10, 73);
        Map<String, String> aws = awsEnvironment();

        try (S3ProxyServer s3 = new S3ProxyServer(Files.createDirectories(tmp.resolve("s3")), BUCKET);
             SecuredUpstream upstream = SecuredUpstream.start(tmp.resolve("upstream"), "upstream", "puller", "pw")) {
            upstream.registry().push(pulled, "team/app:v1", upstream.pki().certDir(), upstream.creds());
            try (ServeProcess a = replica("a", db, s3, upstream, aws);
                 ServeProcess b = replica("b", db, s3, upstream, aws);
                 ServeProcess c = replica("c", db, s3, upstream, aws)) {

                // Push through A; B and C serve the same image.
                skopeo.copy(first.source(), Skopeo.docker(a.hostPort(), "local/app", "v1"), "--preserve-digests");
                for (ServeProcess r : List.of(b, c)) {
                    assertEquals(first.manifestDigest().toString(), manifestDigest(r, "local/app", "v1"), r.hostPort());
                    Path out = tmp.resolve("pulled-" + r.port());
                    skopeo.copy(Skopeo.docker(r.hostPort(), "local/app", "v1"), Skopeo.oci(out, "v1"));
                    assertEquals(first.layerDigest().toString(),
                            OciLayoutBuilder.sha256Digest(Files.readAllBytes(out.resolve("blobs/sha256/"
                                    + first.layerDigest().hex()))), "layer pulled through " + r.hostPort());
                }

                // containerd pulls it through C too, and unpacks it (where it can run: root).
                if (Programs.present("containerd", "ctr") && Programs.isRoot() || Programs.inCi()) {
                    try (Containerd containerd = Containerd.start(tmp.resolve("containerd"), "native")) {
                        String ref = c.hostPort() + "/local/app:v1";
                        containerd.pull("shared", ref);
                        assertEquals(Optional.of(first.manifestDigest().toString()), containerd.imageTarget("shared", ref));
                    }
                }

                // Move the tag through A: B serves the new digest within a second (LISTEN/NOTIFY).
                skopeo.copy(second.source(), Skopeo.docker(a.hostPort(), "local/app", "v1"), "--preserve-digests");
                long moved = System.nanoTime();
                String seen = manifestDigest(b, "local/app", "v1");
                while (!seen.equals(second.manifestDigest().toString()) && System.nanoTime() - moved < 1_000_000_000L) {
                    Thread.sleep(20);
                    seen = manifestDigest(b, "local/app", "v1");
                }
                assertEquals(second.manifestDigest().toString(), seen, "B still serves the old digest after 1 s");

                // A blob pulled through A is served by B from S3: no new upstream request, not in B's tier before.
                String layer = "/v2/upstream/team/app/blobs/" + pulled.layerDigest();
                assertBlob(a, layer, pulled.layerDigest());
                assertEquals(1, blobDownloads(upstream, pulled.layerDigest()));
                Path inTierOfB = tierFile("b", pulled.layerDigest());
                assertFalse(Files.exists(inTierOfB), "B's tier held the blob before it was asked for it");
                assertBlob(b, layer, pulled.layerDigest());
                assertBlob(c, layer, pulled.layerDigest());
                assertEquals(1, blobDownloads(upstream, pulled.layerDigest()),
                        "a replica fetched from the upstream a blob another replica had stored");
                assertTrue(Files.exists(inTierOfB), "B's copy from S3 did not land in its tier");

                // verify runs against the shared backends beside the replicas (on a data directory of its
                // own: A's is locked), and finds every record's blob although its own tier is empty.
                String verify = cli(aws, "verify", "--config", tmp.resolve("a.yaml").toString(), "--data",
                        tmp.resolve("data-verify").toString());
                assertTrue(verify.contains(": consistent"), verify);
                String locked = cli(aws, "verify", "--config", tmp.resolve("a.yaml").toString());
                assertTrue(locked.contains("in use"), locked);

                // S3 away: what a replica's tier holds is served; a blob only S3 has is a 503, not a hang.
                s3.close();
                assertBlob(b, layer, pulled.layerDigest());
                HttpResponse<byte[]> onlyInS3 = new RegistryClient(c.hostPort())
                        .get("/v2/local/app/blobs/" + second.layerDigest());
                assertEquals(503, onlyInS3.statusCode(), RegistryClient.describe(onlyInS3));
            }
        }
    }

    /**
     * PostgreSQL stopped under a replica (issue 15's test 5): what the replica holds (metadata in
     * memory, blobs in its tier) is still pulled, a cold pull is a 503 naming the cause, /readyz
     * says why it is not ready, and once PostgreSQL is back a cold pull succeeds with no restart.
     */
    @Test
    void withPostgresqlAwayCachedPullsGoOnAndColdOnesRecoverByThemselves() throws Exception {
        Programs.require("skopeo");
        Programs.require("docker-registry");
        PgDatabase db = POSTGRES.newDatabase();
        Skopeo skopeo = new Skopeo(tmp.resolve("skopeo"));
        TinyImage cached = TinyImage.write(tmp.resolve("cached"), "v1", 128 << 10, 81);
        TinyImage cold = TinyImage.write(tmp.resolve("cold"), "v1", 128 << 10, 82);
        Map<String, String> aws = awsEnvironment();
        try (S3ProxyServer s3 = new S3ProxyServer(Files.createDirectories(tmp.resolve("s3")), BUCKET);
             SecuredUpstream upstream = SecuredUpstream.start(tmp.resolve("upstream"), "upstream", "puller", "pw")) {
            upstream.registry().push(cached, "team/cached:v1", upstream.pki().certDir(), upstream.creds());
            upstream.registry().push(cold, "team/cold:v1", upstream.pki().certDir(), upstream.creds());
            try (ServeProcess a = replica("a", db, s3, upstream, aws)) {
                skopeo.copy(Skopeo.docker(a.hostPort(), "upstream/team/cached", "v1"), Skopeo.oci(tmp.resolve("o1"), "v1"));

                POSTGRES.stopServer();
                try {
                    for (int i = 0; i < 3; i++) { // a pull of what the replica holds, as nodes keep pulling
                        Path out = tmp.resolve("offline-" + i);
                        skopeo.copy(Skopeo.docker(a.hostPort(), "upstream/team/cached", "v1"), Skopeo.oci(out, "v1"));
                        assertEquals(cached.layerDigest().toString(), OciLayoutBuilder.sha256Digest(Files.readAllBytes(
                                out.resolve("blobs/sha256/" + cached.layerDigest().hex()))), "pull " + i);
                    }
                    HttpResponse<byte[]> coldPull = getManifest(a, "upstream/team/cold", "v1");
                    assertEquals(503, coldPull.statusCode(), RegistryClient.describe(coldPull));
                    HttpResponse<byte[]> ready = new RegistryClient(a.hostPort()).get("/readyz");
                    assertEquals(503, ready.statusCode(), RegistryClient.describe(ready));
                } finally {
                    POSTGRES.startServer();
                }

                // Back: the replica reconnects by itself; a cold pull succeeds without a restart.
                long back = System.nanoTime();
                HttpResponse<byte[]> coldPull;
                do {
                    Thread.sleep(200);
                    coldPull = getManifest(a, "upstream/team/cold", "v1");
                } while (coldPull.statusCode() != 200 && System.nanoTime() - back < 30_000_000_000L);
                assertEquals(200, coldPull.statusCode(), RegistryClient.describe(coldPull));
                skopeo.copy(Skopeo.docker(a.hostPort(), "upstream/team/cold", "v1"), Skopeo.oci(tmp.resolve("o2"), "v1"));
                // Ready again once the listener is back: its reconnection backs off up to 5 s, so it may
                // follow the pool's by that much.
                long listening = System.nanoTime();
                int ready;
                while ((ready = new RegistryClient(a.hostPort()).get("/readyz").statusCode()) != 200
                        && System.nanoTime() - listening < 10_000_000_000L) {
                    Thread.sleep(100);
                }
                assertEquals(200, ready);
            }
        }
    }

    /** s3proxy's credentials as the replicas read them, and no shared credentials file of this machine's. */
    private Map<String, String> awsEnvironment() {
        return Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.IDENTITY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.CREDENTIAL,
                "AWS_SHARED_CREDENTIALS_FILE", tmp.resolve("no-aws-credentials").toString());
    }

    private ServeProcess replica(String name, PgDatabase db, S3ProxyServer s3, SecuredUpstream upstream,
                                 Map<String, String> env) throws Exception {
        Path config = Files.writeString(tmp.resolve(name + ".yaml"), "data: " + tmp.resolve("data-" + name) + "\n"
                + "tls: {mode: off}\n"
                + "hosted: [local]\n"
                + "pullThrough: {prefetchLayers: false}\n"
                + "upstreams:\n"
                + "  - {name: upstream, url: '" + upstream.registry().url() + "', caCert: '" + upstream.pki().caCert()
                + "', credentials: {dockerConfig: '" + upstream.dockerConfig() + "'}}\n"
                + "storage:\n"
                + "  s3: {endpoint: '" + s3.endpoint() + "', bucket: " + BUCKET + ", pathStyle: true}\n"
                + "  tierMaxSize: 64MiB\n"
                + "metadata:\n"
                + "  postgres: {url: '" + db.url() + "', user: " + db.user() + ", passwordFile: '"
                + db.passwordFile() + "', maxConnections: 4}\n");
        return ServeProcess.start(tmp.resolve(name + ".log"), env, "--config", config.toString());
    }

    /** Runs {@code ocimirror ARGS} in its own JVM with {@code env}; its output, exit status first. */
    private static String cli(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-cp", System.getProperty("java.class.path"), "ocimirror.server.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder b = new ProcessBuilder(cmd).redirectErrorStream(true);
        b.environment().putAll(env);
        Process p = b.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return "exit " + p.exitValue() + "\n" + out;
    }

    /** Upstream GETs of the blob answered 200 (the access log; each download also has its 401 round first). */
    private static long blobDownloads(SecuredUpstream upstream, Digest digest) {
        String get = "\"GET /v2/team/app/blobs/" + digest + " HTTP/1.1\" 200 ";
        return upstream.registry().log().stream().filter(l -> l.contains(get)).count();
    }

    private Path tierFile(String replica, Digest digest) {
        return tmp.resolve("data-" + replica).resolve("tier/blobs/sha256/" + digest.hex().substring(0, 2) + "/"
                + digest.hex());
    }

    private static HttpResponse<byte[]> getManifest(ServeProcess replica, String repo, String tag) {
        RegistryClient client = new RegistryClient(replica.hostPort());
        return client.send(client.request("/v2/" + repo + "/manifests/" + tag)
                .header("Accept", "application/vnd.oci.image.manifest.v1+json").GET().build());
    }

    private static String manifestDigest(ServeProcess replica, String repo, String tag) {
        HttpResponse<byte[]> r = getManifest(replica, repo, tag);
        assertEquals(200, r.statusCode(), RegistryClient.describe(r));
        String digest = OciLayoutBuilder.sha256Digest(r.body());
        assertEquals(digest, r.headers().firstValue("Docker-Content-Digest").orElse(null));
        return digest;
    }

    private static void assertBlob(ServeProcess replica, String path, Digest digest) {
        HttpResponse<byte[]> r = new RegistryClient(replica.hostPort()).get(path);
        assertEquals(200, r.statusCode(), replica.hostPort() + " " + RegistryClient.describe(r));
        assertEquals(digest.toString(), OciLayoutBuilder.sha256Digest(r.body()), "wrong body from " + replica.hostPort());
    }
}
