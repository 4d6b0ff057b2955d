package ocimirror.storage.s3;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * AWS Signature Version 4 in the {@code Authorization} header, for service {@code s3}
 * (docs.aws.amazon.com, "Signature Calculations for the Authorization Header"). Written here
 * rather than taken from the AWS SDK: the SDK's signer comes with its HTTP stack, and its Netty
 * client does not run on Netty 4.2 event loops (see docs/dependencies.md).
 *
 * <p>Bodies are sent as {@link #UNSIGNED_PAYLOAD}: hashing every part once more for the signature
 * would double the CPU of an upload, and the blob's own sha256, checked before the upload is
 * completed, is what guarantees its content. Immutable and thread-safe.
 */
final class SigV4Signer {
    static final String UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
    /** The sha256 of nothing, for requests without a body. */
    static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private static final DateTimeFormatter AMZ_DATE =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final HexFormat HEX = HexFormat.of();

    private final String region;
    private final Clock clock;

    SigV4Signer(String region, Clock clock) {
        this.region = requireNonNull(region, "region");
        this.clock = requireNonNull(clock, "clock");
    }

    /**
     * Adds {@code x-amz-date}, {@code x-amz-content-sha256}, {@code x-amz-security-token} (temporary
     * credentials) and {@code authorization} to {@code headers}, which must hold {@code host} and
     * whatever else is to be signed, with lower-case names.
     *
     * @param path the request path as sent, already URI-encoded
     * @param query decoded parameters; a parameter without value maps to ""
     */
    void sign(String method, String path, Map<String, String> query, SortedMap<String, String> headers,
            String payloadHash, AwsCredentials credentials) {
        String amzDate = AMZ_DATE.format(clock.instant());
        String date = amzDate.substring(0, 8);
        headers.put("x-amz-date", amzDate);
        headers.put("x-amz-content-sha256", payloadHash);
        if (credentials.sessionToken() != null) {
            headers.put("x-amz-security-token", credentials.sessionToken());
        }
        StringBuilder canonical = new StringBuilder(256).append(method).append('\n').append(path).append('\n')
                .append(canonicalQuery(query)).append('\n');
        for (Map.Entry<String, String> h : headers.entrySet()) {
            canonical.append(h.getKey()).append(':').append(h.getValue().strip()).append('\n');
        }
        String signedHeaders = String.join(";", headers.keySet());
        canonical.append('\n').append(signedHeaders).append('\n').append(payloadHash);

        String scope = date + "/" + region + "/s3/aws4_request";
        String toSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex(canonical.toString());
        byte[] key = hmac(("AWS4" + credentials.secretAccessKey()).getBytes(UTF_8), date);
        key = hmac(key, region);
        key = hmac(key, "s3");
        key = hmac(key, "aws4_request");
        headers.put("authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.accessKeyId() + "/" + scope
                + ", SignedHeaders=" + signedHeaders + ", Signature=" + HEX.formatHex(hmac(key, toSign)));
    }

    /** Sorted by encoded name, each {@code name=value} encoded: the canonical and the sent form alike. */
    static String canonicalQuery(Map<String, String> query) {
        SortedMap<String, String> sorted = new TreeMap<>();
        query.forEach((k, v) -> sorted.put(encode(k), encode(v)));
        StringBuilder b = new StringBuilder();
        sorted.forEach((k, v) -> (b.length() == 0 ? b : b.append('&')).append(k).append('=').append(v));
        return b.toString();
    }

    /** RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 requires. */
    static String encode(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (byte c : s.getBytes(UTF_8)) {
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit((c >> 4) & 0xF, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
            }
        }
        return b.toString();
    }

    static String sha256Hex(String s) {
        try {
            return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
