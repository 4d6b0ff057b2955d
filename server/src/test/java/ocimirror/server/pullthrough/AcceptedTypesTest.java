package ocimirror.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
    void theKeyDoesNotDependOnOrder() {
        assertEquals(AcceptedTypes.parse(List.of(MediaTypes.OCI_MANIFEST + "," + MediaTypes.DOCKER_MANIFEST)).key(),
                AcceptedTypes.parse(List.of(MediaTypes.DOCKER_MANIFEST + "," + MediaTypes.OCI_MANIFEST)).key());
    }
}
