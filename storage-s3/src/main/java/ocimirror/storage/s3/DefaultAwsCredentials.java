package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The usual AWS sources, in the order the AWS SDKs use them:
 *
 * <ol>
 *   <li>the environment: {@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY} and, for
 *       temporary credentials, {@code AWS_SESSION_TOKEN};
 *   <li>the shared credentials file, {@code AWS_SHARED_CREDENTIALS_FILE} or else
 *       {@code ~/.aws/credentials}, profile {@code AWS_PROFILE} or else {@code default}
 *       ({@code aws_access_key_id}, {@code aws_secret_access_key}, {@code aws_session_token}).
 * </ol>
 *
 * <p>The file is read again when its modification time changes, so credentials that a sidecar
 * rotates there are picked up without a restart. Not yet: web identity
 * ({@code AWS_WEB_IDENTITY_TOKEN_FILE} + {@code AWS_ROLE_ARN}, Kubernetes service accounts), the
 * config file's {@code credential_process}/SSO, and the EC2/ECS metadata endpoints.
 *
 * <p>Thread-safe.
 */
public final class DefaultAwsCredentials implements AwsCredentialsProvider {
    private final Map<String, String> env;
    private final Path file;
    private final String profile;
    private FileTime readAt;
    private AwsCredentials fromFile;

    /** @param env the process environment ({@link System#getenv()}), a map in tests */
    public DefaultAwsCredentials(Map<String, String> env, Path home) {
        this.env = Map.copyOf(requireNonNull(env, "env"));
        String path = env.get("AWS_SHARED_CREDENTIALS_FILE");
        this.file = path != null && !path.isBlank() ? Path.of(path) : home.resolve(".aws").resolve("credentials");
        String p = env.get("AWS_PROFILE");
        this.profile = p != null && !p.isBlank() ? p : "default";
    }

    /** From the process environment and the user's home. */
    public static DefaultAwsCredentials fromEnvironment() {
        return new DefaultAwsCredentials(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    @Override
    public AwsCredentials credentials() throws IOException {
        String key = env.get("AWS_ACCESS_KEY_ID");
        String secret = env.get("AWS_SECRET_ACCESS_KEY");
        if (key != null && !key.isBlank() && secret != null && !secret.isBlank()) {
            return new AwsCredentials(key, secret, env.get("AWS_SESSION_TOKEN"));
        }
        AwsCredentials c = fromFile();
        if (c == null) {
            throw new IOException("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile ["
                    + profile + "] in " + file);
        }
        return c;
    }

    private synchronized AwsCredentials fromFile() throws IOException {
        FileTime modified;
        try {
            modified = Files.getLastModifiedTime(file);
        } catch (NoSuchFileException e) {
            return null;
        }
        if (!modified.equals(readAt)) {
            fromFile = parse(Files.readAllLines(file), profile);
            readAt = modified;
        }
        return fromFile;
    }

    /** The profile's credentials in an INI file of {@code [profile]} sections, or null. */
    static AwsCredentials parse(List<String> lines, String profile) {
        Map<String, String> values = new HashMap<>();
        boolean inProfile = false;
        for (String raw : lines) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            if (line.startsWith("[") && line.endsWith("]")) {
                inProfile = line.substring(1, line.length() - 1).strip().equals(profile);
                continue;
            }
            int eq = line.indexOf('=');
            if (inProfile && eq > 0) {
                values.put(line.substring(0, eq).strip().toLowerCase(java.util.Locale.ROOT), line.substring(eq + 1).strip());
            }
        }
        String key = values.get("aws_access_key_id");
        String secret = values.get("aws_secret_access_key");
        if (key == null || key.isEmpty() || secret == null || secret.isEmpty()) {
            return null;
        }
        return new AwsCredentials(key, secret, values.get("aws_session_token"));
    }

    @Override
    public String toString() {
        return "DefaultAwsCredentials[env, " + file + " [" + profile + "]]";
    }
}
