package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

/**
 * An access key, its secret, and the session token of temporary credentials (null for long-term
 * keys). {@link #toString} never shows the secret or the token.
 */
public record AwsCredentials(String accessKeyId, String secretAccessKey, String sessionToken) {
    public AwsCredentials {
        requireNonNull(accessKeyId, "accessKeyId");
        requireNonNull(secretAccessKey, "secretAccessKey");
        if (accessKeyId.isBlank() || secretAccessKey.isBlank()) {
            throw new IllegalArgumentException("empty access key id or secret");
        }
        if (sessionToken != null && sessionToken.isBlank()) {
            sessionToken = null;
        }
    }

    @Override
    public String toString() {
        return "AwsCredentials[" + accessKeyId + (sessionToken == null ? "" : ", with session token") + "]";
    }
}
