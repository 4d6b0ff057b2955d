package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

import java.io.IOException;

/** Where request signing gets its credentials; asked before every request, so it must be cheap. */
@FunctionalInterface
public interface AwsCredentialsProvider {

    /** The credentials to sign with now; an {@link IOException} says none could be found. */
    AwsCredentials credentials() throws IOException;

    /** Fixed credentials (tests, or keys given in the configuration). */
    static AwsCredentialsProvider of(AwsCredentials credentials) {
        requireNonNull(credentials, "credentials");
        return () -> credentials;
    }
}
