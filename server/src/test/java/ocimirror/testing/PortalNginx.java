package ocimirror.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Debian's nginx on 127.0.0.1 (plain HTTP) as an upstream that lies the way a captive portal
 * does: {@code /v2/} answers 200, and in a portal {@link Mode} every manifest request (GET or
 * HEAD) answers 200 with a small HTML sign-in page, as {@code text/html} or labelled as an OCI
 * manifest. Otherwise it serves the manifests the test put there ({@link #manifest}) as OCI
 * image manifests. The mode is a file nginx looks at on each request, so it switches at once,
 * without a reload. The access log has one line per request: method, path, status.
 */
public final class PortalNginx implements AutoCloseable {
    /** The portal's page. */
    public static final byte[] PAGE = ("<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
            + "<body><form method=\"post\" action=\"/login\"><input name=\"user\"></form></body></html>\n")
            .getBytes(StandardCharsets.UTF_8);

    /** What manifest requests get. */
    public enum Mode {
        /** The manifests put there. */
        REGISTRY,
        /** The page, {@code Content-Type: text/html}. */
        HTML,
        /** The page, {@code Content-Type: application/vnd.oci.image.manifest.v1+json}. */
        HTML_AS_MANIFEST
    }

    private final Path prefix;
    private final int port;
    private final Path accessLog;
    private final Processes.Daemon daemon;

    private PortalNginx(Path prefix, int port, Processes.Daemon daemon) {
        this.prefix = prefix;
        this.port = port;
        this.accessLog = prefix.resolve("access.log");
        this.daemon = daemon;
    }

    public static PortalNginx start(Path prefix) throws IOException {
        Path exe = Programs.require("nginx", "nginx-light");
        int port = Programs.freePort();
        Files.createDirectories(prefix.resolve("tmp"));
        Files.createDirectories(prefix.resolve("www/manifests"));
        Files.write(prefix.resolve("page"), PAGE);
        String conf = """
                worker_processes 1;
                daemon off;
                user root;
                pid PREFIX/nginx.pid;
                error_log PREFIX/error.log info;
                events { worker_connections 64; }
                http {
                  log_format t '$request_method $request_uri $status';
                  access_log PREFIX/access.log t;
                  client_body_temp_path PREFIX/tmp/body;
                  proxy_temp_path PREFIX/tmp/proxy;
                  fastcgi_temp_path PREFIX/tmp/fastcgi;
                  uwsgi_temp_path PREFIX/tmp/uwsgi;
                  scgi_temp_path PREFIX/tmp/scgi;
                  types { }
                  server {
                    listen 127.0.0.1:PORT;
                    root PREFIX/www;
                    location = /v2/ { default_type application/json; return 200 '{}'; }
                    location ~ ^/v2/(.+)/manifests/([^/]+)$ {
                      if (-f PREFIX/mode-HTML) { rewrite ^ /portal/html last; }
                      if (-f PREFIX/mode-HTML_AS_MANIFEST) { rewrite ^ /portal/manifest last; }
                      default_type application/vnd.oci.image.manifest.v1+json;
                      try_files /manifests/$1/$2 =404;
                    }
                    location = /portal/html { internal; default_type text/html; alias PREFIX/page; }
                    location = /portal/manifest {
                      internal;
                      default_type application/vnd.oci.image.manifest.v1+json;
                      alias PREFIX/page;
                    }
                  }
                }
                """
                .replace("PREFIX", prefix.toString())
                .replace("PORT", Integer.toString(port));
        Path confFile = prefix.resolve("nginx.conf");
        Files.writeString(confFile, conf);
        Processes.Daemon d = new Processes(prefix).start("nginx", List.of(exe.toString(),
                "-p", prefix.toString(), "-e", prefix.resolve("error.log").toString(), "-c", confFile.toString()),
                Map.of());
        PortalNginx nginx = new PortalNginx(prefix, port, d);
        try {
            d.awaitPort(port, Duration.ofSeconds(10));
        } catch (AssertionError e) {
            nginx.close();
            Path err = prefix.resolve("error.log");
            throw new AssertionError(e.getMessage() + (Files.exists(err) ? Files.readString(err) : ""), e);
        }
        return nginx;
    }

    /** {@code http://127.0.0.1:PORT}. */
    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** What manifest requests get from now on. */
    public void mode(Mode mode) throws IOException {
        for (Mode m : Mode.values()) {
            Files.deleteIfExists(prefix.resolve("mode-" + m.name()));
        }
        if (mode != Mode.REGISTRY) {
            Files.writeString(prefix.resolve("mode-" + mode.name()), "");
        }
    }

    /** Serves {@code body} for {@code GET /v2/<repo>/manifests/<ref>} in {@link Mode#REGISTRY}. */
    public void manifest(String repo, String ref, byte[] body) throws IOException {
        Path file = prefix.resolve("www/manifests/" + repo + "/" + ref);
        Files.createDirectories(file.getParent());
        Files.write(file, body);
    }

    /**
     * How many requests {@code method path} have been answered. nginx writes a line after the
     * response has gone out, so this waits up to 2 s for the count to reach {@code atLeast}.
     */
    public long requests(String method, String path, long atLeast) throws IOException, InterruptedException {
        String line = method + " " + path + " ";
        long end = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (true) {
            long n = Files.exists(accessLog) ? Files.readAllLines(accessLog).stream().filter(l -> l.startsWith(line))
                    .count() : 0;
            if (n >= atLeast || System.nanoTime() > end) {
                return n;
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() {
        daemon.close();
    }
}
