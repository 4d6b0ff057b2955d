package ocimirror.server.cli;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The admin API's pins ({@code /admin/pins}) over HTTP, for {@code ocimirror pin --server}: a
 * running server's admin listener ({@code metrics.adminListen}). Blocking; one command's worth.
 */
final class AdminPinClient {
    private static final Duration CONNECT = Duration.ofSeconds(5);
    // Adding a pin answers once it is stored, not once the image is fetched: seconds at most.
    private static final Duration REQUEST = Duration.ofSeconds(30);

    private final URI base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(CONNECT).build();
    private final JsonMapper json = new JsonMapper();

    /** A pin as the server lists it; {@code source} is {@code config} or {@code store}. */
    record Entry(String image, String source) {
    }

    /** An answer: the status, and the OCI error's detail (or message) when it is no 2xx. */
    record Answer(int status, String error) {
        boolean ok() {
            return status / 100 == 2;
        }
    }

    /** Thrown when the server cannot be reached or answers something that is not the admin API. */
    static final class Unreachable extends Exception {
        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * @param server {@code http://HOST:PORT} of the admin listener (a path prefix is kept)
     * @throws IllegalArgumentException if it is no http(s) URL with a host
     */
    AdminPinClient(URI server) {
        requireNonNull(server, "server");
        String scheme = server.getScheme();
        if (!("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme)) || server.getHost() == null) {
            throw new IllegalArgumentException("--server must be the admin listener's URL, such as"
                    + " http://127.0.0.1:9090 (got '" + server + "')");
        }
        String path = server.getRawPath() == null || server.getRawPath().isEmpty() ? "/" : server.getRawPath();
        this.base = server.resolve(path.endsWith("/") ? path : path + "/");
    }

    /** The pins in force, as {@code GET /admin/pins} lists them. */
    List<Entry> list() throws Unreachable {
        HttpResponse<byte[]> r = send("GET", "admin/pins");
        JsonNode body = body(r);
        if (r.statusCode() != 200 || !body.path("pins").isArray()) {
            throw new Unreachable(r.uri() + " answered " + r.statusCode() + (r.statusCode() == 200 ? ""
                    : ": " + error(body, r.statusCode())) + notAdmin(), null);
        }
        List<Entry> all = new ArrayList<>();
        for (JsonNode p : body.get("pins")) {
            all.add(new Entry(p.path("image").asText(), p.path("source").asText()));
        }
        return all;
    }

    /** {@code PUT /admin/pins/<image>}: 201 pinned, 200 pinned already, 400 refused. */
    Answer put(String image) throws Unreachable {
        return answer(send("PUT", "admin/pins/" + image));
    }

    /** {@code DELETE /admin/pins/<image>}: 204 unpinned, 404 not pinned, 403 pinned by the config file. */
    Answer delete(String image) throws Unreachable {
        return answer(send("DELETE", "admin/pins/" + image));
    }

    private HttpResponse<byte[]> send(String method, String path) throws Unreachable {
        URI uri = base.resolve(path);
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(REQUEST)
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new Unreachable("cannot reach the admin listener at " + base + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unreachable("interrupted", e);
        }
    }

    private Answer answer(HttpResponse<byte[]> r) throws Unreachable {
        int status = r.statusCode();
        return status / 100 == 2 ? new Answer(status, null) : new Answer(status, error(body(r), status));
    }

    private JsonNode body(HttpResponse<byte[]> r) throws Unreachable {
        if (r.body().length == 0) {
            return json.missingNode();
        }
        try {
            return json.readTree(r.body());
        } catch (IOException e) {
            throw new Unreachable(r.uri() + " answered " + r.statusCode() + " with no JSON" + notAdmin(), e);
        }
    }

    /** The hint for an answer the admin API would not give. */
    String notAdmin() {
        return " (is " + base + " the admin listener, metrics.adminListen?)";
    }

    private static String error(JsonNode body, int status) {
        JsonNode e = body.path("errors").path(0);
        if (e.hasNonNull("detail")) {
            return e.get("detail").asText();
        }
        return e.hasNonNull("message") ? e.get("message").asText() : "HTTP " + status;
    }
}
