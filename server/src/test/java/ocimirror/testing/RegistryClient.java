package ocimirror.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * A minimal OCI distribution client over {@link HttpClient} for the tests that need exact
 * control of requests: pushing a blob or manifest, reading one back, and checking error
 * responses. Redirects are never followed, so a registry's answer is seen as sent.
 */
public final class RegistryClient {
    private final String base;
    private final HttpClient http = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();

    /** A client of the plain-HTTP registry at {@code hostPort} ({@code 127.0.0.1:PORT}). */
    public RegistryClient(String hostPort) {
        this(URI.create("http://" + hostPort));
    }

    /** A client of the registry at {@code base} ({@code http://127.0.0.1:PORT}, no path). */
    public RegistryClient(URI base) {
        String s = base.toString();
        this.base = s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /** {@code pathAndQuery} (starting with /) appended as is, not normalised, to the registry's address. */
    public URI uri(String pathAndQuery) {
        return URI.create(base + pathAndQuery);
    }

    public HttpRequest.Builder request(String pathAndQuery) {
        return HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(60));
    }

    public HttpResponse<byte[]> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new AssertionError(request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    public HttpResponse<InputStream> sendStreaming(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new AssertionError(request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    public HttpResponse<byte[]> get(String pathAndQuery) {
        return send(request(pathAndQuery).GET().build());
    }

    /** {@code POST /v2/<repo>/blobs/uploads/}: returns the upload's absolute Location. */
    public URI startUpload(String repo) {
        HttpResponse<byte[]> r = send(request("/v2/" + repo + "/blobs/uploads/")
                .POST(HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(202, r.statusCode(), () -> "POST upload: " + describe(r));
        return location(r);
    }

    /** The Location header resolved against the registry (it may be relative). */
    public URI location(HttpResponse<?> r) {
        String loc = r.headers().firstValue("Location")
                .orElseThrow(() -> new AssertionError("no Location header in " + r));
        return uri("/").resolve(loc);
    }

    /** {@code url} with {@code digest=...} added to its query. */
    public static URI withDigest(URI url, String digest) {
        String s = url.toString();
        return URI.create(s + (s.contains("?") ? "&" : "?") + "digest=" + digest);
    }

    /** Monolithic push (POST, then PUT with the whole body); asserts 201. */
    public void pushBlob(String repo, byte[] bytes, String digest) {
        URI upload = startUpload(repo);
        HttpResponse<byte[]> r = send(HttpRequest.newBuilder(withDigest(upload, digest))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)).build());
        assertEquals(201, r.statusCode(), () -> "PUT blob " + digest + ": " + describe(r));
    }

    public void pushBlob(String repo, OciLayoutBuilder.Blob blob) throws IOException {
        URI upload = startUpload(repo);
        HttpResponse<byte[]> r = send(HttpRequest.newBuilder(withDigest(upload, blob.digest()))
                .timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofFile(blob.file())).build());
        assertEquals(201, r.statusCode(), () -> "PUT blob " + blob.digest() + ": " + describe(r));
    }

    /** Pushes every blob of {@code image}, then its manifest under {@code tag}. */
    public void pushImage(String repo, String tag, OciLayoutBuilder.Image image) throws IOException {
        for (OciLayoutBuilder.Layer layer : image.layers()) {
            pushBlob(repo, layer.blob());
        }
        pushBlob(repo, image.config());
        HttpResponse<byte[]> r = putManifest(repo, tag, image.manifest().mediaType(), image.manifest().bytes());
        assertEquals(201, r.statusCode(), () -> "PUT manifest: " + describe(r));
    }

    /** Pushes every image of {@code index} by digest, then the index under {@code tag}. */
    public void pushIndex(String repo, String tag, OciLayoutBuilder.ImageIndex index) throws IOException {
        for (OciLayoutBuilder.Image image : index.byPlatform().values()) {
            pushImage(repo, image.manifest().digest(), image);
        }
        HttpResponse<byte[]> r = putManifest(repo, tag, index.index().mediaType(), index.index().bytes());
        assertEquals(201, r.statusCode(), () -> "PUT index: " + describe(r));
    }

    public HttpResponse<byte[]> putManifest(String repo, String ref, String mediaType, byte[] bytes) {
        return send(request("/v2/" + repo + "/manifests/" + ref)
                .header("Content-Type", mediaType)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)).build());
    }

    public static String describe(HttpResponse<byte[]> r) {
        String body = r.body() == null ? "" : OciLayoutBuilder.utf8(r.body());
        if (body.length() > 500) {
            body = body.substring(0, 500) + "...";
        }
        return r.request().method() + " " + r.uri() + " -> " + r.statusCode() + " " + r.headers().map() + " " + body;
    }
}
