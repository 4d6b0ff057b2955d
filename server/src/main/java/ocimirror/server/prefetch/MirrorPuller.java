package ocimirror.server.prefetch;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.SSLException;
import ocimirror.server.image.ImageManifest;
import ocimirror.server.image.ImageName;
import ocimirror.server.image.Platform;
import ocimirror.server.progress.Progress;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.Reference;

/**
 * Pulls images through a running mirror over HTTP(S) as a node would, so that the mirror
 * fetches and caches them: each manifest (the full {@code Accept} set, so the tag's true object
 * is cached), an index's manifests (all, or one platform's), then every config and layer, read
 * to the end and discarded (their digests checked on the way). Images are named as clients
 * name them; a name whose first segment has a port is sent with {@code ?ns=}, anything else
 * as a path the mirror routes by its aliases.
 */
public final class MirrorPuller {
    static final String ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);
    private static final JsonMapper JSON = new JsonMapper();
    private static final Duration MANIFEST_TIMEOUT = Duration.ofMinutes(2);

    private final HttpClient http;
    private final String base;
    private final String authorization;
    private final int parallelism;

    /** One image pulled: its top manifest's digest, and what was read for it. */
    public record Pulled(ImageName image, Digest digest, String mediaType, int manifests, int blobs) {
    }

    /** An image that could not be pulled, and why. */
    public record Failed(ImageName image, String reason) {
    }

    /** The outcome for every image asked for. */
    public record Result(List<Pulled> pulled, List<Failed> failed, int blobs, long bytes) {
    }

    private record Blob(ImageName image, String repoPath, String ns, ImageManifest.Descriptor descriptor) {
    }

    /**
     * @param mirror        {@code https://host:port} (a path prefix is kept)
     * @param authorization an {@code Authorization} header value for the mirror, or null
     * @param parallelism   blob downloads at a time
     */
    public MirrorPuller(HttpClient http, URI mirror, String authorization, int parallelism) {
        this.http = requireNonNull(http, "http");
        String s = requireNonNull(mirror, "mirror").toString();
        this.base = s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
        this.authorization = authorization;
        if (parallelism <= 0) {
            throw new IllegalArgumentException("parallelism must be positive");
        }
        this.parallelism = parallelism;
    }

    /** Pulls {@code images} (all platforms, or {@code platform}); failures of one image do not stop the others. */
    public Result pull(List<ImageName> images, Platform platform, Progress progress) throws InterruptedException {
        Map<Digest, Blob> blobs = new LinkedHashMap<>();
        List<Pulled> pulled = new ArrayList<>();
        Map<ImageName, String> failed = new LinkedHashMap<>();
        for (ImageName image : images) {
            try {
                pulled.add(manifests(image, platform, blobs));
            } catch (IOException e) {
                failed.put(image, e.getMessage());
            }
        }
        progress.total(blobs.values().stream().mapToLong(b -> b.descriptor().size()).sum());
        long bytes = 0;
        ExecutorService pool = Executors.newFixedThreadPool(parallelism, r -> {
            Thread t = new Thread(r, "ocimirror-prefetch");
            t.setDaemon(true);
            return t;
        });
        try {
            Map<Blob, Future<Long>> downloads = new LinkedHashMap<>();
            for (Blob b : blobs.values()) {
                downloads.put(b, pool.submit(() -> blob(b, progress)));
            }
            for (Map.Entry<Blob, Future<Long>> e : downloads.entrySet()) {
                try {
                    bytes += e.getValue().get();
                } catch (ExecutionException ex) {
                    failed.putIfAbsent(e.getKey().image(), ex.getCause().getMessage());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        List<Failed> failures = failed.entrySet().stream().map(e -> new Failed(e.getKey(), e.getValue())).toList();
        List<Pulled> ok = pulled.stream().filter(p -> !failed.containsKey(p.image())).toList();
        return new Result(ok, failures, blobs.size(), bytes);
    }

    /** Fetches the image's manifests and adds its blobs to {@code blobs}. */
    private Pulled manifests(ImageName image, Platform platform, Map<Digest, Blob> blobs) throws IOException,
            InterruptedException {
        String first = image.name().contains("/") ? image.name().substring(0, image.name().indexOf('/')) : image.name();
        String ns = first.indexOf(':') >= 0 ? first : null;
        String repoPath = ns != null ? image.path().value() : image.name();
        Fetched top = manifest(image, repoPath, ns, image.reference());
        int[] count = {0};
        walk(image, repoPath, ns, top, platform, blobs, count, 0);
        return new Pulled(image, top.digest(), top.parsed().mediaType(), count[0], (int) blobs.values().stream()
                .filter(b -> b.image().equals(image)).count());
    }

    private record Fetched(Digest digest, ImageManifest parsed) {
    }

    private void walk(ImageName image, String repoPath, String ns, Fetched m, Platform platform, Map<Digest, Blob> blobs,
                      int[] count, int depth) throws IOException, InterruptedException {
        count[0]++;
        if (m.parsed().index()) {
            List<ImageManifest.Descriptor> children = m.parsed().manifests(platform);
            if (children.isEmpty() && depth == 0) {
                throw new IOException("no " + (platform == null ? "manifests" : platform + " image")
                        + " in its index (it has " + m.parsed().platforms() + ")");
            }
            for (ImageManifest.Descriptor child : children) {
                if (depth < 8) {
                    walk(image, repoPath, ns, manifest(image, repoPath, ns, new Reference.ByDigest(child.digest())),
                            null, blobs, count, depth + 1);
                }
            }
            return;
        }
        for (ImageManifest.Descriptor b : m.parsed().blobs()) {
            blobs.putIfAbsent(b.digest(), new Blob(image, repoPath, ns, b));
        }
    }

    private Fetched manifest(ImageName image, String repoPath, String ns, Reference ref) throws IOException,
            InterruptedException {
        HttpResponse<byte[]> r = send(request(repoPath, "manifests", ref.toString(), ns)
                .header("Accept", ACCEPT).timeout(MANIFEST_TIMEOUT).build(), HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200) {
            throw new IOException("manifest " + ref + ": " + describe(r.statusCode(), r.body()));
        }
        byte[] body = r.body();
        Digest digest = Digest.sha256(body);
        if (ref instanceof Reference.ByDigest d) {
            digest = d.digest();
            if (!Digest.of(digest.algorithm(), body).equals(digest)) {
                throw new IOException("the mirror sent manifest " + ref + " with other content");
            }
        } else {
            String header = r.headers().firstValue("Docker-Content-Digest").orElse(null);
            if (header != null && Digest.isDigest(header)) {
                digest = Digest.parse(header);
            }
        }
        try {
            return new Fetched(digest, ImageManifest.parse(body, r.headers().firstValue("Content-Type").orElse(null)));
        } catch (IllegalArgumentException e) {
            throw new IOException("manifest " + ref + ": " + e.getMessage());
        }
    }

    /** Reads the blob to its end, checking its digest; returns its size. */
    private long blob(Blob b, Progress progress) throws IOException, InterruptedException {
        Digest digest = b.descriptor().digest();
        HttpResponse<InputStream> r = send(request(b.repoPath(), "blobs", digest.toString(), b.ns()).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                throw new IOException("blob " + digest + ": " + describe(r.statusCode(),
                        in.readNBytes(64 * 1024)));
            }
            MessageDigest md = digest.algorithm().newMessageDigest();
            byte[] buf = new byte[1 << 16];
            long n = 0;
            for (int k; (k = in.read(buf)) > 0; ) {
                md.update(buf, 0, k);
                n += k;
                progress.advance(k);
            }
            if (!Digest.fromHash(digest.algorithm(), md.digest()).equals(digest)) {
                throw new IOException("blob " + digest + " arrived with other content");
            }
            return n;
        }
    }

    /** Sends, turning the usual failures into what to do about them. */
    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException,
            InterruptedException {
        try {
            return http.send(request, handler);
        } catch (SSLException e) {
            throw new IOException("TLS with the mirror failed (" + e.getMessage() + "): trust its CA with --ca-file"
                    + " (ocimirror ca export --format pem), or use --insecure", e);
        } catch (ConnectException e) {
            throw new IOException("cannot connect to the mirror at " + base + " (" + e + ")", e);
        }
    }

    private HttpRequest.Builder request(String repoPath, String kind, String ref, String ns) {
        String uri = base + "/v2/" + repoPath + "/" + kind + "/" + ref
                + (ns == null ? "" : "?ns=" + URLEncoder.encode(ns, StandardCharsets.UTF_8));
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri)).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b;
    }

    /**
     * {@code 404 MANIFEST_UNKNOWN: manifest unknown: <detail>} from the OCI error body (the mirror's
     * detail says which upstream failed and how), else the status alone.
     */
    static String describe(int status, byte[] body) {
        try {
            JsonNode errors = JSON.readTree(body).path("errors");
            if (errors.isArray() && !errors.isEmpty()) {
                JsonNode e = errors.get(0);
                JsonNode detail = e.path("detail");
                return status + " " + e.path("code").asText() + ": " + e.path("message").asText()
                        + (detail.isTextual() && !detail.asText().isEmpty() ? ": " + detail.asText() : "");
            }
        } catch (IOException | RuntimeException ignored) {
            // not an OCI error body
        }
        return "HTTP " + status;
    }
}
