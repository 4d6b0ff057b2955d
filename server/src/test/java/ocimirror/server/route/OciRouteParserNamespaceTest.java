package ocimirror.server.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.Reference;
import ocimirror.storage.oci.RepoName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The {@code ns} query parameter containerd sends to a mirror, returned by the same parse as the route. */
class OciRouteParserNamespaceTest {
    private static final String D = "sha256:" + "c".repeat(64);
    private final OciRouteParser parser = new OciRouteParser();

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "/v2/library/nginx/manifests/latest?ns=docker.io                   | docker.io",
            "/v2/library/nginx/manifests/latest?foo=1&ns=registry-1.docker.io | registry-1.docker.io",
            "/v2/pause/manifests/3.9?ns=registry.k8s.io                       | registry.k8s.io",
            "/v2/team/app/manifests/v1?ns=localhost:5000                       | localhost:5000",
            "/v2/team/app/manifests/v1?ns=127.0.0.1%3A5000                     | 127.0.0.1:5000",
            "/v2/team/app/manifests/v1?ns=[::1]:5000                           | [::1]:5000",
            "/v2/team/app/manifests/v1?ns=Registry.Corp                        | Registry.Corp",
    })
    void nsIsReturnedAsSent(String uri, String ns) {
        OciRouteParser.ParsedRequest r = parser.parseRequest(uri);
        assertEquals(ns, r.ns());
        assertEquals(OciRoute.Manifest.class, r.route().getClass());
    }

    @Test
    void nsTravelsWithEveryRouteKind() {
        OciRouteParser.ParsedRequest blob = parser.parseRequest("/v2/library/nginx/blobs/" + D + "?ns=docker.io");
        assertEquals(new OciRoute.Blob(RepoName.of("library/nginx"), Digest.parse(D)), blob.route());
        assertEquals("docker.io", blob.ns());
        OciRouteParser.ParsedRequest tags = parser.parseRequest("/v2/a/b/tags/list?n=5&ns=gcr.io");
        assertEquals(new OciRoute.Tags(RepoName.of("a/b"), 5, null), tags.route());
        assertEquals("gcr.io", tags.ns());
    }

    @ParameterizedTest
    @CsvSource({"/v2/a/manifests/x", "/v2/a/manifests/x?ns=", "/v2/a/manifests/x?ns", "/v2/a/manifests/x?n=ns"})
    void absentOrEmptyNsIsNull(String uri) {
        OciRouteParser.ParsedRequest r = parser.parseRequest(uri);
        assertEquals(null, r.ns());
        assertEquals(new OciRoute.Manifest(RepoName.of("a"), new Reference.Tag("x")), r.route());
        assertEquals(r.route(), parser.parse(uri));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "/v2/a/manifests/x?ns=docker.io/library",
            "/v2/a/manifests/x?ns=-docker.io",
            "/v2/a/manifests/x?ns=docker..io",
            "/v2/a/manifests/x?ns=docker.io:port",
            "/v2/a/manifests/x?ns=a%20b",
            "/v2/a/manifests/x?ns=%0d%0aX-Evil:%201",
            "/v2/a/manifests/x?ns=docker.io:123456",
            "/v2/a/manifests/x?ns=https://docker.io",
    })
    void malformedNsIsNameInvalid(String uri) {
        OciException e = assertThrows(OciException.class, () -> parser.parseRequest(uri));
        assertEquals(OciError.NAME_INVALID, e.error());
        assertEquals(400, e.error().httpStatus());
    }

    @Test
    void overlongNsIsNameInvalid() {
        String host = "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(63) + "." + "e".repeat(63);
        assertThrows(OciException.class, () -> parser.parseRequest("/v2/a/manifests/x?ns=" + host));
    }
}
