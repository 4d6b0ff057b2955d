package ocimirror.server.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.stream.Stream;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class OciRouteParserTest {
    private static final String D = "sha256:" + "a".repeat(64);
    private static final String D2 = "sha256:" + "b".repeat(64);
    private static final String UUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    private static final Digest DIGEST = Digest.parse(D);

    private final OciRouteParser parser = new OciRouteParser();

    static Stream<Arguments> valid() {
        RepoName lib = RepoName.of("library/nginx");
        return Stream.of(
                Arguments.of("/v2/", new OciRoute.Base()),
                Arguments.of("/v2", new OciRoute.Base()),
                Arguments.of("/v2/_catalog", new OciRoute.Catalog(OciRoute.ALL, null)),
                Arguments.of("/v2/_catalog?n=10&last=a/b", new OciRoute.Catalog(10, "a/b")),
                Arguments.of("/v2/_catalog?n=99999999", new OciRoute.Catalog(OciRouteParser.MAX_PAGE, null)),
                Arguments.of("/v2/library/nginx/tags/list", new OciRoute.Tags(lib, OciRoute.ALL, null)),
                Arguments.of("/v2/library/nginx/tags/list?n=0", new OciRoute.Tags(lib, 0, null)),
                Arguments.of("/v2/library/nginx/tags/list?last=v1&n=2", new OciRoute.Tags(lib, 2, "v1")),
                Arguments.of("/v2/library/nginx/manifests/latest",
                        new OciRoute.Manifest(lib, new Reference.Tag("latest"))),
                Arguments.of("/v2/library/nginx/manifests/" + D,
                        new OciRoute.Manifest(lib, new Reference.ByDigest(DIGEST))),
                Arguments.of("/v2/library/nginx/manifests/sha256%3A" + "a".repeat(64),
                        new OciRoute.Manifest(lib, new Reference.ByDigest(DIGEST))),
                // keywords inside a name: the end of the path decides
                Arguments.of("/v2/a/manifests/b/manifests/v1",
                        new OciRoute.Manifest(RepoName.of("a/manifests/b"), new Reference.Tag("v1"))),
                Arguments.of("/v2/a/blobs/uploads/b/blobs/" + D,
                        new OciRoute.Blob(RepoName.of("a/blobs/uploads/b"), DIGEST)),
                Arguments.of("/v2/library/nginx/blobs/" + D, new OciRoute.Blob(lib, DIGEST)),
                Arguments.of("/v2/library/nginx/blobs/uploads/", new OciRoute.UploadStart(lib, null, null, null)),
                Arguments.of("/v2/library/nginx/blobs/uploads", new OciRoute.UploadStart(lib, null, null, null)),
                Arguments.of("/v2/library/nginx/blobs/uploads/?digest=" + D,
                        new OciRoute.UploadStart(lib, DIGEST, null, null)),
                Arguments.of("/v2/library/nginx/blobs/uploads/?mount=" + D + "&from=other/repo",
                        new OciRoute.UploadStart(lib, null, DIGEST, RepoName.of("other/repo"))),
                Arguments.of("/v2/library/nginx/blobs/uploads/" + UUID, new OciRoute.Upload(lib, UUID, null)),
                Arguments.of("/v2/library/nginx/blobs/uploads/" + UUID + "?digest=sha256%3A" + "a".repeat(64),
                        new OciRoute.Upload(lib, UUID, DIGEST)),
                Arguments.of("/v2/library/nginx/referrers/" + D, new OciRoute.Referrers(lib, DIGEST, null)),
                Arguments.of("/v2/library/nginx/referrers/" + D + "?artifactType=application%2Fvnd.x+json",
                        new OciRoute.Referrers(lib, DIGEST, "application/vnd.x+json")),
                Arguments.of("http://mirror:5000/v2/library/nginx/blobs/" + D, new OciRoute.Blob(lib, DIGEST)),
                Arguments.of("/v2/library/nginx/manifests/v1?ns=docker.io",
                        new OciRoute.Manifest(lib, new Reference.Tag("v1"))),
                Arguments.of("/", new OciRoute.NotFound("/")),
                // the operator's endpoints: exact paths outside /v2/
                Arguments.of("/metrics", new OciRoute.Metrics()),
                Arguments.of("/healthz?x=1", new OciRoute.Healthz()),
                Arguments.of("/readyz", new OciRoute.Readyz()),
                Arguments.of("/metrics/", new OciRoute.NotFound("/metrics/")),
                Arguments.of("/v2/metrics", new OciRoute.NotFound("/v2/metrics")),
                Arguments.of("/v1/_ping", new OciRoute.NotFound("/v1/_ping")),
                Arguments.of("/v2x/foo", new OciRoute.NotFound("/v2x/foo")),
                Arguments.of("/v2/library/nginx", new OciRoute.NotFound("/v2/library/nginx")),
                Arguments.of("/v2/library/nginx/tags/list/", new OciRoute.NotFound("/v2/library/nginx/tags/list/")),
                Arguments.of("/v2/library/nginx/blobs/uploads/" + UUID + "/",
                        new OciRoute.NotFound("/v2/library/nginx/blobs/uploads/" + UUID + "/")),
                Arguments.of("/v2/library/nginx/unknown/x", new OciRoute.NotFound("/v2/library/nginx/unknown/x")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("valid")
    void parsesValidPaths(String uri, OciRoute expected) {
        assertEquals(expected, parser.parse(uri));
    }

    static Stream<Arguments> refused() {
        return Stream.of(
                // traversal and separator smuggling
                Arguments.of("/v2/../etc/passwd/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo/../bar/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/./foo/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/../v2/foo/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/%2e%2e/foo/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/%2E%2E/foo/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%2fbar/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%2Fbar/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%5cbar/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo\\bar/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%00/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo\u0000/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%zz/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo%c3%a9/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo//bar/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2//manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo bar/manifests/latest", OciError.NAME_INVALID),
                // grammar
                Arguments.of("/v2/Foo/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo-/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/" + "a".repeat(256) + "/manifests/latest", OciError.NAME_INVALID),
                Arguments.of("/v2/foo/blobs/latest", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/blobs/sha256:" + "A".repeat(64), OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/referrers/latest", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/blobs/uploads/?digest=nope", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/blobs/uploads/?mount=nope&from=bar", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/blobs/uploads/?mount=nope", OciError.DIGEST_INVALID),
                // a manifest reference that is a traversal is a bad path, not an unknown manifest
                Arguments.of("/v2/foo/manifests/..", OciError.NAME_INVALID),
                Arguments.of("/v2/foo/manifests/%2e%2e", OciError.NAME_INVALID),
                Arguments.of("/v2/Foo/manifests/.INVALID_MANIFEST_NAME", OciError.NAME_INVALID),
                Arguments.of("/v2/foo/blobs/uploads/?mount=" + D2 + "&from=..", OciError.NAME_INVALID),
                Arguments.of("/v2/foo/blobs/uploads/" + UUID + "?digest=sha256:1", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/blobs/uploads/not-a-uuid", OciError.BLOB_UPLOAD_UNKNOWN),
                Arguments.of("/v2/foo/blobs/uploads/" + UUID.toUpperCase(), OciError.BLOB_UPLOAD_UNKNOWN),
                Arguments.of("/v2/foo/tags/list?n=-1", OciError.PAGINATION_NUMBER_INVALID),
                Arguments.of("/v2/foo/tags/list?n=ten", OciError.PAGINATION_NUMBER_INVALID),
                Arguments.of("/v2/_catalog?n=99999999999", OciError.PAGINATION_NUMBER_INVALID));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void refusesInvalidPaths(String uri, OciError expected) {
        OciException e = assertThrows(OciException.class, () -> parser.parse(uri));
        assertEquals(expected, e.error());
    }

    static Stream<Arguments> invalidManifestReferences() {
        return Stream.of(
                // the OCI conformance suite's name: a leading dot is not a tag
                Arguments.of("/v2/foo/manifests/.INVALID_MANIFEST_NAME", "foo", OciError.TAG_INVALID),
                Arguments.of("/v2/a/b/manifests/.INVALID_MANIFEST_NAME?ns=docker.io", "a/b", OciError.TAG_INVALID),
                Arguments.of("/v2/foo/manifests/-bad", "foo", OciError.TAG_INVALID),
                Arguments.of("/v2/foo/manifests/" + "t".repeat(129), "foo", OciError.TAG_INVALID),
                Arguments.of("/v2/foo/manifests/a+b", "foo", OciError.TAG_INVALID),
                Arguments.of("/v2/foo/manifests/.hidden%3A", "foo", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/manifests/sha256:abc", "foo", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/manifests/md5:" + "a".repeat(32), "foo", OciError.DIGEST_INVALID),
                Arguments.of("/v2/foo/manifests/sha256:" + "A".repeat(64), "foo", OciError.DIGEST_INVALID));
    }

    /**
     * Neither a tag nor a digest: a route of its own (the method decides between 404 and 400),
     * carrying the repository and the push's refusal, never the reference as a usable value.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidManifestReferences")
    void invalidManifestReferencesAreARouteOfTheirOwn(String uri, String repo, OciError pushRefusal) {
        OciRoute route = parser.parse(uri);
        OciRoute.InvalidManifestReference r = assertInstanceOf(OciRoute.InvalidManifestReference.class, route);
        assertEquals(RepoName.of(repo), r.repo());
        assertEquals(pushRefusal, r.error());
        assertEquals(RouteKind.MANIFEST, RouteKind.of(route));
    }

    @Test
    void firstQueryValueWinsAndEmptyValuesAreAbsent() {
        assertEquals(new OciRoute.Tags(RepoName.of("foo"), 3, null), parser.parse("/v2/foo/tags/list?n=3&n=5&last="));
    }
}
