package ocimirror.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Debian's nginx on 127.0.0.1 with its own prefix, in the foreground, as two hosts:
 * {@code front} (TLS, 127.0.0.1) proxies to the registry, answers blob GETs that carry
 * credentials with a 307 to {@code blobs} (TLS, reached as "localhost", a certificate for
 * that name only) which serves the registry's blob files like an object store would, and
 * has a few locations that misbehave on purpose. Both log the Authorization header. The registry's
 * answers through {@code front} carry Docker Hub's rate-limit headers.
 */
public final class Nginx implements AutoCloseable {

    private final int frontPort;
    private final int blobsPort;
    private final int markPort;
    private final Path accessLog;
    private final Processes.Daemon daemon;
    private int marks;

    private Nginx(int frontPort, int blobsPort, int markPort, Path accessLog, Processes.Daemon daemon) {
        this.frontPort = frontPort;
        this.blobsPort = blobsPort;
        this.markPort = markPort;
        this.accessLog = accessLog;
        this.daemon = daemon;
    }

    public static Nginx start(Path prefix, DockerRegistry registry, TestPki.Issued frontCert, TestPki.Issued blobsCert)
            throws IOException {
        Path exe = Programs.require("nginx", "nginx-light");
        int front = Programs.freePort();
        int blobs = Programs.freePort();
        int mark = Programs.freePort();
        Files.createDirectories(prefix.resolve("tmp"));
        Path accessLog = prefix.resolve("access.log");
        String conf = """
                worker_processes 1;
                daemon off;
                user root;
                pid PREFIX/nginx.pid;
                error_log PREFIX/error.log info;
                events { worker_connections 128; }
                http {
                  log_format t '$server_port $request_method $request_uri $status conn=$connection auth="$http_authorization" ua="$http_user_agent"';
                  access_log PREFIX/access.log t;
                  client_body_temp_path PREFIX/tmp/body;
                  proxy_temp_path PREFIX/tmp/proxy;
                  fastcgi_temp_path PREFIX/tmp/fastcgi;
                  uwsgi_temp_path PREFIX/tmp/uwsgi;
                  scgi_temp_path PREFIX/tmp/scgi;
                  default_type application/octet-stream;
                  keepalive_timeout 60s;
                  server {
                    listen 127.0.0.1:FRONT ssl;
                    ssl_certificate FRONT_CRT;
                    ssl_certificate_key FRONT_KEY;
                    location ~ ^/v2/.+/blobs/sha256:([a-f0-9]+)$ {
                      if ($http_authorization = "") {
                        add_header WWW-Authenticate 'Basic realm="front"' always;
                        return 401;
                      }
                      return 307 https://localhost:BLOBS/blob/$1;
                    }
                    location = /v2/flaky/manifests/1 { return 503; }
                    location = /v2/limited/manifests/1 { add_header Retry-After 120 always; return 429; }
                    location = /v2/briefly-limited/manifests/1 { add_header Retry-After 1 always; return 429; }
                    location = /v2/loop/manifests/1 { return 302 /v2/loop/manifests/1; }
                    location = /v2/downgrade/manifests/1 { return 302 http://127.0.0.1:FRONT/v2/x/manifests/1; }
                    location / {
                      # what Docker Hub adds to every registry answer (count;w=window in seconds)
                      add_header ratelimit-limit "100;w=21600" always;
                      add_header ratelimit-remaining "76;w=21600" always;
                      proxy_pass https://127.0.0.1:REGISTRY;
                      proxy_http_version 1.1;
                      proxy_set_header Connection "";
                      proxy_set_header Host $http_host;
                    }
                  }
                  server {
                    listen 127.0.0.1:BLOBS ssl;
                    server_name localhost;
                    ssl_certificate BLOBS_CRT;
                    ssl_certificate_key BLOBS_KEY;
                    location ~ "^/blob/([a-f0-9]{2})([a-f0-9]+)$" {
                      alias ROOT/docker/registry/v2/blobs/sha256/$1/$1$2/data;
                    }
                  }
                  server {
                    # log() asks here first: see there
                    listen 127.0.0.1:MARK;
                    location / { return 204; }
                  }
                }
                """
                .replace("PREFIX", prefix.toString())
                .replace("FRONT_CRT", frontCert.cert().toString())
                .replace("FRONT_KEY", frontCert.key().toString())
                .replace("BLOBS_CRT", blobsCert.cert().toString())
                .replace("BLOBS_KEY", blobsCert.key().toString())
                .replace("FRONT", Integer.toString(front))
                .replace("BLOBS", Integer.toString(blobs))
                .replace("MARK", Integer.toString(mark))
                .replace("REGISTRY", Integer.toString(registry.port()))
                .replace("ROOT", registry.root().toString());
        Path confFile = prefix.resolve("nginx.conf");
        Files.writeString(confFile, conf);
        Processes.Daemon d = new Processes(prefix).start("nginx", List.of(exe.toString(),
                "-p", prefix.toString(), "-e", prefix.resolve("error.log").toString(), "-c", confFile.toString()),
                Map.of());
        try {
            d.awaitPort(front, Duration.ofSeconds(10));
            d.awaitPort(blobs, Duration.ofSeconds(10));
            d.awaitPort(mark, Duration.ofSeconds(10));
        } catch (AssertionError e) {
            Path err = prefix.resolve("error.log");
            throw new AssertionError(e.getMessage() + (Files.exists(err) ? Files.readString(err) : ""), e);
        }
        return new Nginx(front, blobs, mark, accessLog, d);
    }

    public int frontPort() {
        return frontPort;
    }

    public int blobsPort() {
        return blobsPort;
    }

    /**
     * Access-log lines of every request answered so far. nginx writes a line after the
     * response has gone out, so a client can see its answer before the line exists; one
     * worker handles requests in order, so once a later marker request's line is there,
     * so are the lines of every request answered before it.
     */
    public synchronized List<String> log() throws IOException {
        String marker = "/__mark/" + (++marks);
        RawHttp.exchange("127.0.0.1:" + markPort, RawHttp.get("mark", marker));
        List<String> lines = Processes.linesUntil(accessLog, " " + marker + " ", Duration.ofSeconds(10));
        if (lines.stream().noneMatch(l -> l.contains(" " + marker + " "))) {
            throw new AssertionError("nginx did not log " + marker + " within 10 s");
        }
        return lines.stream().filter(l -> !l.contains(" /__mark/")).toList();
    }

    @Override
    public void close() {
        daemon.close();
    }
}
