package ocimirror.server.route;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;

/**
 * Parses a request URI into an {@link OciRoute}. Pure and immutable: one parser per listener kind,
 * since only the admin listener's ({@link #admin()}) knows the admin API's paths.
 *
 * <p>Repository names contain slashes, so the path is read from its end: the last one or two
 * segments say which endpoint it is ({@code manifests/<ref>}, {@code blobs/<digest>},
 * {@code blobs/uploads/[<uuid>]}, {@code tags/list}, {@code referrers/<digest>}) and the rest is
 * the name. Anything that could escape a directory or smuggle a separator is refused before
 * that: {@code .}/{@code ..} segments, empty segments, backslashes, control characters, and
 * percent-escapes of {@code /}, {@code \}, {@code .} or non-ASCII (all with {@code NAME_INVALID}).
 * Escapes of other characters (say {@code %3A} for the colon of a digest) are decoded.
 *
 * <p>The same single pass also returns the {@code ns} query parameter (see
 * {@link #parseRequest}): containerd adds it to every request it sends to a mirror, naming the
 * registry host the image reference points at, and {@link UpstreamRouter} routes by it.
 *
 * <p>A manifest reference that is neither a tag nor a digest is not thrown but parsed into
 * {@link OciRoute.InvalidManifestReference}, since its answer depends on the method.
 *
 * @throws OciException from {@link #parse}: NAME_INVALID (also for a malformed {@code ns}),
 *                      DIGEST_INVALID (blobs, referrers, upload digests), PAGINATION_NUMBER_INVALID,
 *                      BLOB_UPLOAD_UNKNOWN (malformed upload id)
 */
public final class OciRouteParser {

    /** The largest page served, whatever {@code n} asks for (the spec lets a registry return fewer). */
    public static final int MAX_PAGE = 10_000;

    private static final String PREFIX = "/v2";
    // What containerd puts into ?ns=: a reference's host, optionally with a port (any case; an
    // IPv6 literal in brackets). Checked here so that nothing malformed reaches a log line or
    // the echoed OCI-Namespace header.
    private static final Pattern NS = Pattern.compile(
            "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                    + "|\\[[0-9A-Fa-f:.]+])(?::[0-9]{1,5})?");
    private static final int MAX_NS = 261;
    private static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final boolean admin;

    /** The main listener's parser: {@code /admin/} paths are {@link OciRoute.NotFound}. */
    public OciRouteParser() {
        this(false);
    }

    private OciRouteParser(boolean admin) {
        this.admin = admin;
    }

    /** The admin listener's parser: {@code /admin/pins[/<image>]} are routes too. */
    public static OciRouteParser admin() {
        return new OciRouteParser(true);
    }

    /**
     * A parsed request: the route and the {@code ns} query value (null when absent or empty).
     * {@code ns} is syntactically a host[:port] but not yet matched against anything.
     */
    public record ParsedRequest(OciRoute route, String ns) {
        public ParsedRequest {
            Objects.requireNonNull(route, "route");
        }
    }

    /** Parses {@code uri} (origin form {@code /v2/...?query}, or absolute form); the route only. */
    public OciRoute parse(String uri) {
        return parseRequest(uri).route();
    }

    /**
     * Parses {@code uri} into the route and the {@code ns} query parameter, in one pass.
     *
     * @throws OciException as {@link #parse}, and NAME_INVALID (400) for an {@code ns} that is
     *                      not a host name or address with an optional port
     */
    public ParsedRequest parseRequest(String uri) {
        String rawPath = uri;
        String rawQuery = "";
        int q = uri.indexOf('?');
        if (q >= 0) {
            rawPath = uri.substring(0, q);
            rawQuery = uri.substring(q + 1);
        }
        int hash = rawPath.indexOf('#');
        if (hash >= 0) {
            rawPath = rawPath.substring(0, hash);
        }
        rawPath = stripAuthority(rawPath);
        String path = decodePath(rawPath);
        Map<String, String> query = parseQuery(rawQuery);
        return new ParsedRequest(route(path, query), namespace(query.get("ns")));
    }

    private static String namespace(String ns) {
        if (ns == null) {
            return null;
        }
        if (ns.length() > MAX_NS || !NS.matcher(ns).matches()) {
            throw OciError.NAME_INVALID.exception("ns must be a registry host name with an optional port");
        }
        return ns;
    }

    private OciRoute route(String path, Map<String, String> query) {
        OciRoute ops = OpsPaths.route(path, admin);
        if (ops != null) {
            return ops;
        }
        if (!path.equals(PREFIX) && !path.startsWith(PREFIX + "/")) {
            return new OciRoute.NotFound(path);
        }
        String rest = path.length() <= PREFIX.length() + 1 ? "" : path.substring(PREFIX.length() + 1);
        if (rest.isEmpty()) {
            return new OciRoute.Base();
        }
        if (rest.equals("_catalog")) {
            return new OciRoute.Catalog(pageSize(query.get("n")), query.get("last"));
        }
        boolean uploadSlash = rest.endsWith("/blobs/uploads/");
        if (uploadSlash) {
            rest = rest.substring(0, rest.length() - 1);
        } else if (rest.endsWith("/")) {
            return new OciRoute.NotFound(path);
        }
        if (rest.charAt(0) == '/' || rest.contains("//")) {
            throw OciError.NAME_INVALID.exception("empty path segment");
        }
        // The route is told by the last segments, the repository is everything before them: found
        // from the last three slashes rather than by splitting, as this runs for every request.
        int last = rest.lastIndexOf('/');
        int second = last < 0 ? -1 : rest.lastIndexOf('/', last - 1);
        int third = second < 0 ? -1 : rest.lastIndexOf('/', second - 1);
        if (second < 0) {
            return new OciRoute.NotFound(path);
        }
        String lastSegment = rest.substring(last + 1);
        boolean blobsBeforeLast = segmentIs(rest, second + 1, last, "blobs");
        if (blobsBeforeLast && lastSegment.equals("uploads")) {
            return new OciRoute.UploadStart(RepoName.of(rest.substring(0, second)), optionalDigest(query.get("digest")),
                    optionalDigest(query.get("mount")), optionalName(query.get("from")));
        }
        if (uploadSlash) {
            return new OciRoute.NotFound(path);
        }
        if (segmentIs(rest, second + 1, last, "tags") && lastSegment.equals("list")) {
            return new OciRoute.Tags(RepoName.of(rest.substring(0, second)), pageSize(query.get("n")), query.get("last"));
        }
        if (segmentIs(rest, second + 1, last, "manifests")) {
            return manifest(RepoName.of(rest.substring(0, second)), lastSegment);
        }
        if (third >= 0 && segmentIs(rest, third + 1, second, "blobs") && segmentIs(rest, second + 1, last, "uploads")) {
            RepoName repo = RepoName.of(rest.substring(0, third));
            if (!UUID.matcher(lastSegment).matches()) {
                throw OciError.BLOB_UPLOAD_UNKNOWN.exception("malformed upload id");
            }
            return new OciRoute.Upload(repo, lastSegment, optionalDigest(query.get("digest")));
        }
        if (blobsBeforeLast) {
            RepoName repo = RepoName.of(rest.substring(0, second));
            return new OciRoute.Blob(repo, Digest.parse(lastSegment));
        }
        if (segmentIs(rest, second + 1, last, "referrers")) {
            RepoName repo = RepoName.of(rest.substring(0, second));
            return new OciRoute.Referrers(repo, Digest.parse(lastSegment), query.get("artifactType"));
        }
        return new OciRoute.NotFound(path);
    }

    /**
     * A manifest route; a reference that is neither a tag nor a digest becomes
     * {@link OciRoute.InvalidManifestReference}: only the method tells whether that is a 404 (a
     * read: such a manifest cannot exist, as the spec's conformance suite expects) or a 400 (a push).
     */
    private static OciRoute manifest(RepoName repo, String reference) {
        try {
            return new OciRoute.Manifest(repo, Reference.parse(reference));
        } catch (OciException invalid) {
            return new OciRoute.InvalidManifestReference(repo, invalid.error(), invalid.detail());
        }
    }

    /** Whether {@code s} from {@code from} to {@code to} (exclusive) is {@code word}. */
    private static boolean segmentIs(String s, int from, int to, String word) {
        return to - from == word.length() && s.startsWith(word, from);
    }

    private static Digest optionalDigest(String s) {
        return s == null ? null : Digest.parse(s);
    }

    private static RepoName optionalName(String s) {
        return s == null ? null : RepoName.of(s);
    }

    private static int pageSize(String n) {
        if (n == null) {
            return OciRoute.ALL;
        }
        if (n.isEmpty() || n.length() > 10 || !n.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw OciError.PAGINATION_NUMBER_INVALID.exception("n must be a non-negative integer");
        }
        long value = Long.parseLong(n);
        return (int) Math.min(value, MAX_PAGE);
    }

    private static String stripAuthority(String rawPath) {
        int scheme = rawPath.indexOf("://");
        if (scheme > 0 && rawPath.startsWith("http")) {
            int slash = rawPath.indexOf('/', scheme + 3);
            return slash < 0 ? "/" : rawPath.substring(slash);
        }
        return rawPath;
    }

    /** Validates the raw path and decodes the harmless escapes. */
    private static String decodePath(String raw) {
        String path = raw.indexOf('%') < 0 ? raw : unescape(raw);
        // Traversal segments are refused outright rather than normalised away.
        int start = 0;
        for (int i = 0; i <= path.length(); i++) {
            if (i == path.length() || path.charAt(i) == '/') {
                int len = i - start;
                if (len >= 1 && len <= 2 && path.charAt(start) == '.' && (len == 1 || path.charAt(start + 1) == '.')) {
                    throw OciError.NAME_INVALID.exception("dot segment in path");
                }
                start = i + 1;
            } else {
                char c = path.charAt(i);
                if (c <= 0x20 || c >= 0x7f || c == '\\') {
                    throw OciError.NAME_INVALID.exception("forbidden character in path");
                }
            }
        }
        return path;
    }

    /** Decodes the escapes that may name a character of a path segment; others are refused. */
    private static String unescape(String raw) {
        StringBuilder out = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int v = i + 2 < raw.length() ? hex(raw.charAt(i + 1), raw.charAt(i + 2)) : -1;
                if (v < 0x21 || v >= 0x7f || v == '/' || v == '\\' || v == '.' || v == '%') {
                    throw OciError.NAME_INVALID.exception("forbidden escape in path");
                }
                out.append((char) v);
                i += 2;
            } else if (c <= 0x20 || c >= 0x7f || c == '\\') {
                throw OciError.NAME_INVALID.exception("forbidden character in path");
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** Query values: percent-decoded as UTF-8; {@code +} stays a plus (media types contain it). */
    private static Map<String, String> parseQuery(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String key = decodeQuery(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : decodeQuery(pair.substring(eq + 1));
            if (!value.isEmpty()) {
                out.putIfAbsent(key, value);
            }
        }
        return out;
    }

    private static String decodeQuery(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int v = c == '%' && i + 2 < s.length() ? hex(s.charAt(i + 1), s.charAt(i + 2)) : -1;
            if (v >= 0) {
                bytes.write(v);
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(b, 0, b.length);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static int hex(char a, char b) {
        int hi = Character.digit(a, 16);
        int lo = Character.digit(b, 16);
        return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
    }
}
