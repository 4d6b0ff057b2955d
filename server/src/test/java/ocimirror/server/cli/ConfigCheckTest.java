package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.testing.Commands;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code ocimirror config check FILE}, and which configuration {@code serve} runs with. */
class ConfigCheckTest {
    @TempDir
    Path dir;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    int run(String... args) {
        return Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    @BeforeEach
    void secrets() throws Exception {
        String auth = Base64.getEncoder().encodeToString("robot:s3cret-pw".getBytes(StandardCharsets.UTF_8));
        Files.writeString(dir.resolve("config.json"), "{\"auths\": {\"registry.corp:5000\": {\"auth\": \"" + auth + "\"}}}");
        Files.writeString(dir.resolve("password"), "an0ther-pw\n");
    }

    @Test
    void helpIsListed() {
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("config"), out.toString());
        assertEquals(0, run("config", "--help"));
        assertTrue(out.toString().contains("check"), out.toString());
        assertEquals(0, run("config", "check", "--help"));
        assertTrue(out.toString().contains("FILE"), out.toString());
    }

    @Test
    void everyUrlOfAnUpstreamIsPrintedWithItsCredentialSourceButNoSecret() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - name: hub
                    urls:
                      - url: https://registry.corp:5000
                        credentials: {dockerConfig: config.json}
                      - https://registry-1.docker.io
                    aliases: [docker.io]
                """);
        assertEquals(0, run("config", "check", file.toString()), err.toString());
        String[] lines = out.toString().split("\n");
        assertEquals("upstream hub: https://registry.corp:5000,https://registry-1.docker.io aliases=docker.io tagTtl=10m",
                lines[0]);
        assertEquals("  url https://registry.corp:5000 credentials=dockerConfig " + dir.resolve("config.json")
                + " (user robot)", lines[1]);
        assertEquals("  url https://registry-1.docker.io credentials=anonymous", lines[2]);
        assertFalse(out.toString().contains("s3cret-pw"), out.toString());
    }

    @Test
    void validFilePrintsOneLinePerUpstreamAndExits0() throws Exception {
        Path ca = dir.resolve("ca.pem");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir.resolve("ca.key").toString(),
                "-out", ca.toString(), "-days", "1", "-subj", "/CN=check test CA")
                .redirectErrorStream(true).redirectOutput(dir.resolve("openssl.log").toFile()).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "openssl hung");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("openssl.log")));
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - {name: docker.io, url: "https://registry-1.docker.io", aliases: [docker.io], default: true}
                  - name: corp
                    url: https://registry.corp:5000
                    aliases: [registry.corp:5000]
                    caCert: ca.pem
                    credentials: {dockerConfig: config.json}
                    tagTtl: 90s
                  - name: lab
                    url: http://lab.test:5000
                    plainHttp: true
                    credentials: {username: builder, passwordFile: password}
                    tagTtl: 0
                hosted: [local, team]
                pullThrough: {negativeCacheTtl: 1m}
                """);
        assertEquals(0, run("config", "check", file.toString()), err.toString());
        String[] lines = out.toString().split("\n");
        assertEquals("upstream docker.io: https://registry-1.docker.io aliases=docker.io default credentials=anonymous"
                + " tagTtl=10m", lines[0]);
        assertEquals("upstream corp: https://registry.corp:5000 aliases=registry.corp:5000 credentials=dockerConfig "
                + dir.resolve("config.json") + " (user robot) caCert=" + ca + " (1 certificate) tagTtl=1m30s", lines[1]);
        assertEquals("upstream lab: http://lab.test:5000 aliases=(none) credentials=passwordFile "
                + dir.resolve("password") + " (user builder) tagTtl=0s plainHttp", lines[2]);
        assertEquals("hosted: local, team", lines[3]);
        assertEquals("pullThrough: prefetchLayers=true negativeCacheTtl=1m", lines[4]);
        assertEquals("tls: generate CA=data/pki/ca.crt keyAlgorithm=ecdsa-p256 hostNames=(defaults) clientAuth=none",
                lines[5]);
        assertEquals("auth: none (clients are not authenticated)", lines[6]);
        assertEquals("metrics: public=true adminListen=(none) cacheSizeInterval=5m; log: format=text audit=off", lines[7]);
        assertEquals("shutdown: gracePeriod=30s", lines[8]);
        assertEquals("warmup: enabled=true maxDuration=30s", lines[9]);
        assertEquals("storage: a single node: blobs and metadata under data (deleteEnabled=true)", lines[10]);
        assertEquals(file + ": OK", lines[11]);
        assertFalse(out.toString().contains("s3cret-pw") || out.toString().contains("an0ther-pw"), "no password printed");
        assertEquals("", err.toString());
    }

    @Test
    void tlsAndAuthFilesAreReadAndDescribedWithoutSecrets() throws Exception {
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=given CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        Path htpasswd = dir.resolve("htpasswd");
        Files.writeString(htpasswd, htpasswd("-Bbn", "ci", "ci-pw") + htpasswd("-Bbn", "node", "node-pw"));
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                tls: {mode: files, caCertFile: ca.pem, caKeyFile: ca.key, hostNames: [mirror.test], clientCaFile: ca.pem}
                auth: {htpasswd: htpasswd, realm: corp, users: {ci: push}}
                """);
        assertEquals(0, run("config", "check", file.toString()), err.toString());
        String[] lines = out.toString().split("\n");
        assertTrue(lines[2].startsWith("tls: files caCertFile=" + dir.resolve("ca.pem") + " (CN=given CA, SHA-256 "),
                lines[2]);
        assertTrue(lines[2].endsWith(" hostNames=mirror.test clientAuth=require clientCaFile=" + dir.resolve("ca.pem")
                + " (1 certificate)"), lines[2]);
        assertEquals("auth: htpasswd=" + htpasswd + " (2 users) realm=\"corp\" defaultAccess=pull users=ci=push", lines[3]);
        assertFalse(out.toString().contains("$2y$"), "no hash printed");

        // A key that is not the certificate's, and an htpasswd entry that is not bcrypt: caught here.
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "other.key", "-out", "other.pem", "-days", "1", "-subj", "/CN=other");
        Files.writeString(file, "tls: {mode: files, certFile: ca.pem, keyFile: other.key}\n");
        assertEquals(2, run("config", "check", file.toString()));
        assertTrue(err.toString().contains("other.key: this private key does not belong to the first certificate"),
                err.toString());
        Files.writeString(htpasswd, htpasswd("-mbn", "old", "md5-pw"));
        Files.writeString(file, "auth: {htpasswd: htpasswd}\n");
        assertEquals(2, run("config", "check", file.toString()));
        assertTrue(err.toString().contains(htpasswd + ":1: user 'old' has an MD5 (apr1) hash"), err.toString());
    }

    private void openssl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile()).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "openssl hung");
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("openssl.log")));
    }

    private static String htpasswd(String flags, String user, String password) throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        return Commands.check("htpasswd", flags, user, password).strip() + "\n";
    }

    @Test
    void fileWithoutUpstreamsIsAPlainRegistry() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), "listen: \":5001\"\n");
        assertEquals(0, run("config", "check", file.toString()));
        assertTrue(out.toString().startsWith("no upstreams: a plain registry"), out.toString());
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            // caught by the loader
            "upstreams: [{name: x, url: \"https://x.test\", aliases: [GCR.io]}] | mirror.yaml: upstreams[0].aliases[0]: 'GCR.io' is not a lower-case host name",
            "upstreams: [{name: x, url: \"https://x.test\", caCert: none.pem}]  | mirror.yaml: upstreams[0].caCert: DIR/none.pem: no such file",
            // caught only by reading the files
            "upstreams: [{name: x, url: \"https://x.test\", caCert: password}]  | upstream 'x': caCert DIR/password is not a PEM certificate file",
            "upstreams: [{name: x, url: \"https://x.test\", credentials: {dockerConfig: config.json}}] | upstream 'x': DIR/config.json: no entry in \"auths\" for registry 'x.test'",
            "upstreams: [{name: x, url: \"https://x.test\", credentials: {dockerConfig: password}}] | upstream 'x': ",
    })
    void invalidFileExits2WithTheError(String content, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), content + "\n");
        assertEquals(2, run("config", "check", file.toString()));
        String message = err.toString().replace(dir.toString(), "DIR");
        assertTrue(message.startsWith("ocimirror: ") && message.contains(expected), message);
        assertFalse(message.contains("\tat "), "no stack trace: " + message);
        assertFalse(out.toString().contains(": OK"), out.toString());
    }

    @Test
    void rulesAndPrefetchPlatformsArePrinted() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - name: docker.io
                    url: https://registry-1.docker.io
                    default: true
                    allow: [library/*, bitnami/**]
                    deny: [library/ubuntu]
                pullThrough: {prefetchPlatforms: [linux/amd64, linux/arm64/v8], prefetch: [library/alpine:3]}
                cache: {pins: [nginx]}
                """);
        assertEquals(0, run("config", "check", file.toString()), err.toString());
        String o = out.toString();
        assertTrue(o.contains("tagTtl=10m allow=library/*,bitnami/** deny=library/ubuntu\n"), o);
        assertTrue(o.contains(" prefetchPlatforms=linux/amd64,linux/arm64/v8\n"), o);
    }

    @Test
    void limitsArePrinted() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - {name: docker.io, url: "https://registry-1.docker.io", default: true, maxConnections: 8,
                     maxBandwidth: 200MiB/s}
                  - {name: quay, url: "https://quay.io", maxBandwidth: 1500000}
                """);
        assertEquals(0, run("config", "check", file.toString()), err.toString());
        String o = out.toString();
        assertTrue(o.contains("tagTtl=10m maxConnections=8 maxBandwidth=200.0 MiB/s\n"), o);
        assertTrue(o.contains("tagTtl=10m maxBandwidth=1.4 MiB/s\n"), o);
    }

    @Test
    void delegatedAuthorizationIsPrinted() throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - {name: corp, url: https://registry.corp, authorization: upstream, authorizationTtl: 2m}
                  - {name: hub, url: https://registry-1.docker.io, default: true}
                """);
        assertEquals(0, run("config", "check", file.toString()), err.toString());
        String o = out.toString();
        assertTrue(o.contains(" tagTtl=10m authorization=upstream authorizationTtl=2m\n"), o);
        assertEquals(1, o.split("authorization=", -1).length - 1, "only the upstream that delegates: " + o);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "pullThrough: {prefetch: [library/alpine:3, library/ubuntu:24.04]} | pullThrough.prefetch[1]: 'library/ubuntu:24.04' is refused by its upstream's rules: repository 'library/ubuntu' of upstream 'docker.io' is not proxied by this mirror: it matches deny rule 'library/ubuntu'",
            "cache: {pins: ['docker.io/grafana/grafana:11']}                | cache.pins[0]: 'docker.io/grafana/grafana:11' is refused by its upstream's rules: repository 'grafana/grafana' of upstream 'docker.io' is not proxied by this mirror: it matches no allow rule (allow: library/*, bitnami/**)",
    })
    void aPrefetchOrPinTheRulesRefuseFailsTheCheck(String section, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve("mirror.yaml"), """
                upstreams:
                  - name: docker.io
                    url: https://registry-1.docker.io
                    aliases: [docker.io]
                    default: true
                    allow: [library/*, bitnami/**]
                    deny: [library/ubuntu]
                """ + section + "\n");
        assertEquals(2, run("config", "check", file.toString()), out.toString());
        assertEquals("ocimirror: " + file + ": " + expected + "\n", err.toString());
    }

    @Test
    void missingFileExits2() {
        assertEquals(2, run("config", "check", dir.resolve("absent.yaml").toString()));
        assertTrue(err.toString().contains("absent.yaml: no such file"), err.toString());
        assertEquals(2, run("config", "check"));   // FILE is required
    }

    @Test
    void serveWithoutConfigRunsTheEmbeddedConfiguration() throws Exception {
        Main.Serve serve = new Main.Serve();
        assertEquals(MirrorConfig.embedded(), serve.configuration());
        Path file = Files.writeString(dir.resolve("mirror.yaml"), "pullThrough: {prefetchLayers: false}\n");
        serve.config = file;
        serve.data = dir.resolve("d");
        MirrorConfig fromFile = serve.configuration();
        assertEquals(0, fromFile.upstreams().size(), "with --config the file is the whole truth");
        assertFalse(fromFile.pullThrough().prefetchLayers());
        assertEquals(Duration.ofSeconds(30), fromFile.pullThrough().negativeCacheTtl());
        assertEquals(dir.resolve("d"), fromFile.dataDir());
        assertEquals(TlsConfig.defaults(), fromFile.tls(), "a file without tls: serves HTTPS with a generated CA");

        Files.writeString(file, "tls: {hostNames: [mirror.test]}\n");
        serve.plainHttp = true;
        assertEquals(TlsConfig.off(), serve.configuration().tls(), "--plain-http wins over the file");
        serve.config = null;
        assertEquals(MirrorConfig.embedded().withTls(TlsConfig.off()).withDataDir(dir.resolve("d")), serve.configuration());
    }
}
