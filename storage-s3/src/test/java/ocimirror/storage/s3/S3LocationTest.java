package ocimirror.storage.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import ocimirror.storage.oci.Digest;
import org.junit.jupiter.api.Test;

class S3LocationTest {
    @Test
    void pathStyleKeepsTheBucketInThePath() {
        S3Location l = new S3Location(URI.create("http://127.0.0.1:9000"), "us-east-1", "mirror", true);
        assertEquals("127.0.0.1", l.host());
        assertEquals("127.0.0.1:9000", l.hostHeader());
        assertEquals("/mirror/k/x", l.path("k/x"));
        assertEquals("/mirror", l.path(""));
        assertEquals(9000, l.port());
    }

    @Test
    void virtualHostStylePutsItInTheHost() {
        S3Location l = new S3Location(URI.create("https://s3.eu-west-1.amazonaws.com"), "eu-west-1", "mirror", false);
        assertEquals("mirror.s3.eu-west-1.amazonaws.com", l.host());
        assertEquals("mirror.s3.eu-west-1.amazonaws.com", l.hostHeader());
        assertEquals("/k/x", l.path("k/x"));
        assertEquals("/", l.path(""));
        assertEquals(443, l.port());
    }

    @Test
    void badEndpointsAndBucketsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new S3Location(URI.create("ftp://h"), "r", "bucket", true));
        assertThrows(IllegalArgumentException.class, () -> new S3Location(URI.create("http://h/path"), "r", "bucket", true));
        assertThrows(IllegalArgumentException.class, () -> new S3Location(URI.create("http://h"), "r", "Bad_Bucket", true));
    }

    @Test
    void keysFollowTheDocumentedLayout() {
        Digest d = Digest.sha256(new byte[0]);
        assertEquals("blobs/sha256/e3/" + d.hex(), new S3Keys("").blob(d));
        assertEquals("mirror/eu/blobs/sha256/e3/" + d.hex(), new S3Keys("mirror/eu/").blob(d));
        for (String bad : new String[] {"no-slash", "/abs/", "a//", "../up/", "sp ace/"}) {
            assertThrows(IllegalArgumentException.class, () -> new S3Keys(bad), bad);
        }
    }
}
