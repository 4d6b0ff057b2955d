package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import ocimirror.storage.oci.MediaTypes;
import org.junit.jupiter.api.Test;

class AcceptedTypesTest {

    @Test
    void whatContainerdSendsIsFullAndForwardedAsSent() {
        // containerd 1.7: the four types and */*, over two headers, one with a q parameter.
        AcceptedTypes a = AcceptedTypes.parse(List.of(MediaTypes.DOCKER_MANIFEST + ", " + MediaTypes.DOCKER_MANIFEST_LIST,
                MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX + ", */*;q=0.8"));
        assertTrue(a.full());
        assertEquals("full", a.key());
        assertEquals(5, a.forward().size());
        assertEquals("*/*;q=0.8", a.forward().get(4));
        assertTrue(a.accepts("application/vnd.docker.distribution.manifest.v1+prettyjws"), "the wildcard");
    }

    @Test
    void allFourTypesWithoutAWildcardAreFullButAcceptOnlyThose() {
        AcceptedTypes a = AcceptedTypes.all();
        assertTrue(a.full());
        assertTrue(MediaTypes.MANIFESTS.stream().allMatch(a::accepts));
        assertFalse(a.accepts("application/vnd.docker.distribution.manifest.v1+prettyjws"));
    }

    @Test
    void aClientWithoutIndexTypesIsNarrowAndRefusesIndexes() {
        AcceptedTypes a = AcceptedTypes.parse(List.of(" Application/VND.oci.image.manifest.v1+json ; q=1 "));
        assertFalse(a.full());
        assertEquals(MediaTypes.OCI_MANIFEST, a.key());
        assertTrue(a.accepts(MediaTypes.OCI_MANIFEST));
        assertFalse(a.accepts(MediaTypes.OCI_INDEX));
        assertFalse(a.accepts(MediaTypes.DOCKER_MANIFEST));
    }

    @Test
    void noAcceptHeaderIsNarrowAndIsNeverGivenAnIndex() {
        AcceptedTypes a = AcceptedTypes.parse(List.of());
        assertFalse(a.full());
        assertEquals("none", a.key());
        assertTrue(a.forward().isEmpty());
        assertTrue(a.accepts(MediaTypes.DOCKER_MANIFEST));
        assertFalse(a.accepts(MediaTypes.DOCKER_MANIFEST_LIST));
        assertEquals(a.key(), AcceptedTypes.parse(List.of(" , ")).key());
    }

    @Test
    void theKeyIsTheTypesSortedWhateverTheirOrder() {
        String sorted = MediaTypes.DOCKER_MANIFEST + "," + MediaTypes.OCI_MANIFEST;
        assertEquals(sorted, AcceptedTypes.parse(List.of(MediaTypes.OCI_MANIFEST + "," + MediaTypes.DOCKER_MANIFEST)).key());
        assertEquals(sorted, AcceptedTypes.parse(List.of(MediaTypes.DOCKER_MANIFEST + "," + MediaTypes.OCI_MANIFEST)).key());
    }

    @Test
    void theParseCacheAnswersAsParseAndKeepsOneHeadersAnswer() {
        AcceptedTypes.ParseCache cache = new AcceptedTypes.ParseCache();
        List<String> one = List.of(MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX);
        AcceptedTypes first = cache.parse(one);
        assertEquals(AcceptedTypes.parse(one).key(), first.key());
        assertEquals(AcceptedTypes.parse(one).forward(), first.forward());
        assertSame(first, cache.parse(List.of(new String(one.get(0)))), "the same header, kept");

        List<String> two = List.of(MediaTypes.DOCKER_MANIFEST + ", " + MediaTypes.DOCKER_MANIFEST_LIST,
                MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX);
        assertTrue(cache.parse(two).full(), "two headers: both read");
        assertFalse(cache.parse(List.of(two.get(0))).full());
        assertEquals("none", cache.parse(List.of()).key());
        assertEquals("none", cache.parse(null).key());
    }
}
