package ocimirror.storage.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The worked examples of AWS's "Signature Calculations for the Authorization Header" for S3. */
class SigV4SignerTest {
    private static final AwsCredentials EXAMPLE =
            new AwsCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", null);
    private final SigV4Signer signer =
            new SigV4Signer("us-east-1", Clock.fixed(Instant.parse("2013-05-24T00:00:00Z"), ZoneOffset.UTC));

    private SortedMap<String, String> sign(String path, Map<String, String> query, Map<String, String> extra) {
        SortedMap<String, String> h = new TreeMap<>(extra);
        h.put("host", "examplebucket.s3.amazonaws.com");
        signer.sign("GET", path, query, h, SigV4Signer.EMPTY_SHA256, EXAMPLE);
        return h;
    }

    @Test
    void getObjectWithRange() {
        SortedMap<String, String> h = sign("/test.txt", Map.of(), Map.of("range", "bytes=0-9"));
        assertEquals("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", h.get("authorization"));
        assertEquals("20130524T000000Z", h.get("x-amz-date"));
    }

    @Test
    void parameterWithoutValue() {
        SortedMap<String, String> h = sign("/", Map.of("lifecycle", ""), Map.of());
        assertTrue(h.get("authorization").endsWith(
                "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"), h.get("authorization"));
    }

    @Test
    void parametersAreSorted() {
        SortedMap<String, String> h = sign("/", Map.of("prefix", "J", "max-keys", "2"), Map.of());
        assertTrue(h.get("authorization").endsWith(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"), h.get("authorization"));
    }

    @Test
    void sessionTokenIsSentAndSigned() {
        SortedMap<String, String> h = new TreeMap<>(Map.of("host", "h"));
        signer.sign("GET", "/", Map.of(), h, SigV4Signer.UNSIGNED_PAYLOAD,
                new AwsCredentials(EXAMPLE.accessKeyId(), EXAMPLE.secretAccessKey(), "token/with+chars"));
        assertEquals("token/with+chars", h.get("x-amz-security-token"));
        assertEquals("UNSIGNED-PAYLOAD", h.get("x-amz-content-sha256"));
        assertTrue(h.get("authorization").contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
    }

    @Test
    void encodingIsRfc3986() {
        assertEquals("a%20b%2Bc~d_e.f-g%2Fh%C3%A9", SigV4Signer.encode("a b+c~d_e.f-g/hé"));
        assertEquals("a=1&b=&z=%2F", SigV4Signer.canonicalQuery(Map.of("z", "/", "b", "", "a", "1")));
    }
}
