package ocimirror.server.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The admin API's paths: routes for the admin listener's parser, not found for the main listener's. */
class OciRouteParserAdminTest {
    private static final String D = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    private final OciRouteParser admin = OciRouteParser.admin();
    private final OciRouteParser main = new OciRouteParser();

    @ParameterizedTest
    @ValueSource(strings = {"/admin/pins", "/admin/pins/", "/admin/pins?x=1", "http://127.0.0.1:9090/admin/pins"})
    void theListOfPins(String uri) {
        assertEquals(new OciRoute.AdminPins(), admin.parse(uri));
    }

    @ParameterizedTest
    @CsvSource({
            "/admin/pins/alpine,                              alpine",
            "/admin/pins/docker.io/library/alpine:3.20,       docker.io/library/alpine:3.20",
            "/admin/pins/docker.io/library/alpine%3A3.20,     docker.io/library/alpine:3.20",
            "/admin/pins/registry.corp:5000/team/app:v1,      registry.corp:5000/team/app:v1",
            "/admin/pins/gcr.io/distroless/static@" + D + ",  gcr.io/distroless/static@" + D})
    void onePinIsThePathsTail(String uri, String image) {
        assertEquals(new OciRoute.AdminPin(image), admin.parse(uri));
    }

    @ParameterizedTest
    @ValueSource(strings = {"/admin/pins/Not/An:Image!", "/admin/pins/alpine:", "/admin/pins/a//b",
            "/admin/pins/alpine@sha256:abc", "/admin/pins/UPPER/case"})
    void aTailThatIsNoImageReferenceIsRefused(String uri) {
        OciException e = assertThrows(OciException.class, () -> admin.parse(uri));
        assertEquals(OciError.NAME_INVALID, e.error());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/admin/pins/../../metrics", "/admin/pins/a%2Fb", "/admin/pins/%2E%2E/x"})
    void traversalAndEscapedSeparatorsAreRefusedBeforeAnything(String uri) {
        OciException e = assertThrows(OciException.class, () -> admin.parse(uri));
        assertEquals(OciError.NAME_INVALID, e.error());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/admin/pins", "/admin/pins/", "/admin/pins/alpine:3.20", "/admin/pins/Not!Image"})
    void theMainListenerKnowsNoAdminPaths(String uri) {
        assertEquals(OciRoute.NotFound.class, main.parse(uri).getClass());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/admin", "/admin/", "/admin/pinsx", "/admin/other"})
    void otherAdminPathsAreNotFound(String uri) {
        assertEquals(OciRoute.NotFound.class, admin.parse(uri).getClass());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/metrics", "/healthz", "/readyz"})
    void theAdminParserKeepsTheOpsPaths(String uri) {
        assertEquals(main.parse(uri), admin.parse(uri));
    }
}
