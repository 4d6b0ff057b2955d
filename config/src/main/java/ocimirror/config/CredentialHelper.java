package ocimirror.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs a Docker credential helper the way the Docker CLI does: {@code <program> get}, the server
 * URL on standard input, {@code {"ServerURL","Username","Secret"}} on standard output.
 *
 * <p>What the helper prints is never put into a message, a log or an exception's cause: its
 * standard output holds the secret (or, on failure, whatever the helper chose to say, which may
 * hold one too), so errors name the helper, its exit status and what was wrong with the answer,
 * and tell the operator how to run it by hand. Standard error is discarded unread.
 *
 * <p>Blocking (it starts a process and waits for it): never call it on an event loop.
 */
public final class CredentialHelper {

    /** What {@link #isValidName} wants, worded for an error message. */
    public static final String NAME_RULE = "is neither a helper name of letters, digits, '.', '_' and '-' (for"
            + " docker-credential-<name> on the PATH) nor an absolute path to the program";
    /** How long a helper may take by default: ecr-login and gcloud ask a remote service. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]+");
    private static final String PREFIX = "docker-credential-";
    private static final int MAX_OUTPUT = 64 * 1024;
    /** Docker Hub's credentials are stored under this server URL, not under a host name. */
    private static final String DOCKER_HUB_SERVER = "https://index.docker.io/v1/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private CredentialHelper() {
    }

    /** A name such as {@code ecr-login} (not "." or ".."), or an absolute path. */
    public static boolean isValidName(String helper) {
        if (helper == null || helper.isEmpty() || helper.length() > 4096) {
            return false;
        }
        if (helper.startsWith("/")) {
            return true;
        }
        return NAME.matcher(helper).matches() && !helper.equals(".") && !helper.equals("..");
    }

    /**
     * The program for {@code helper}: an absolute path as it is, else the first executable
     * {@code docker-credential-<helper>} in the directories of {@code pathVariable} (the
     * {@code PATH} environment variable's format), as the Docker CLI looks it up.
     *
     * @return empty if there is no such executable file
     */
    public static Optional<Path> locate(String helper, String pathVariable) {
        if (!isValidName(helper)) {
            return Optional.empty();
        }
        if (helper.startsWith("/")) {
            Path p = Path.of(helper).normalize();
            return Files.isRegularFile(p) && Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        for (String dir : (pathVariable == null ? "" : pathVariable).split(java.io.File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue; // an empty entry means the working directory: not for a server
            }
            try {
                Path p = Path.of(dir, PREFIX + helper).toAbsolutePath().normalize();
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return Optional.of(p);
                }
            } catch (InvalidPathException e) {
                // a malformed PATH entry: skip it as a shell would
            }
        }
        return Optional.empty();
    }

    /** The server URL Docker hands a helper for {@code upstream}: its host[:port], Docker Hub's v1 URL for Docker Hub. */
    public static String serverUrl(UpstreamConfig upstream) {
        return upstream.implicitLibraryPrefix() ? DOCKER_HUB_SERVER : upstream.authority();
    }

    /** How a message names a helper: {@code credential helper 'ecr-login'}. */
    public static String describe(CredentialSource.Helper h) {
        return "credential helper '" + h.helper() + "'";
    }

    /** The command an operator runs to see what the helper says (its output is not shown by the mirror). */
    public static String byHand(CredentialSource.Helper h, String serverUrl) {
        return "echo " + serverUrl + " | " + h.program() + " get";
    }

    /**
     * Runs {@code <program> get} for {@code serverUrl}.
     *
     * @throws CredentialsException if the helper cannot be started, does not exit within
     *                              {@code timeout} (it is killed), exits with a non-zero status,
     *                              or prints no usable answer; the message never holds its output
     */
    public static RegistryCredentials get(CredentialSource.Helper h, String serverUrl, Duration timeout) {
        String who = describe(h) + " (" + h.program() + ")";
        String hint = "; its output is not shown as it may hold secrets: run `" + byHand(h, serverUrl)
                + "` as the mirror's user to see it";
        Process p;
        try {
            p = new ProcessBuilder(h.program().toString(), "get")
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
        } catch (IOException e) {
            throw new CredentialsException(who + " cannot be started: " + e.getMessage());
        }
        OutputReader out = new OutputReader(p.getInputStream());
        out.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write((serverUrl + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // It exited without reading its input: its exit status tells.
        }
        int status;
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new CredentialsException(who + " did not answer within " + timeout.toMillis() + " ms and was"
                        + " stopped" + hint);
            }
            status = p.exitValue();
            out.join(1000); // a child of the helper may keep the pipe open: do not wait for it
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CredentialsException(who + ": interrupted while waiting for it");
        }
        if (status != 0) {
            throw new CredentialsException(who + " exited with status " + status + hint);
        }
        byte[] answer = out.bytes();
        if (answer == null) {
            throw new CredentialsException(who + " printed more than " + MAX_OUTPUT + " bytes" + hint);
        }
        return parse(answer, who, hint);
    }

    private static RegistryCredentials parse(byte[] answer, String who, String hint) {
        JsonNode json;
        try {
            json = JSON.readTree(answer);
        } catch (IOException e) {
            // Jackson's message quotes the input: it must not reach a log, so it is dropped here.
            json = null;
        }
        if (json == null || !json.isObject()) {
            throw new CredentialsException(who + " did not print a JSON object {\"Username\",\"Secret\"}" + hint);
        }
        String user = json.path("Username").asText("");
        String secret = json.path("Secret").asText("");
        if (user.equals("<token>")) {
            // Docker exchanges an identity token at the registry's OAuth2 endpoint; the mirror does not.
            throw new CredentialsException(who + " answered with an identity token (Username \"<token>\"), which"
                    + " ocimirror does not support: give it a helper that answers with a user name and password or"
                    + " registry token");
        }
        if (user.isEmpty() || secret.isEmpty()) {
            throw new CredentialsException(who + " answered without " + (user.isEmpty() ? "a Username" : "a Secret")
                    + hint);
        }
        if (user.indexOf(':') >= 0) {
            throw new CredentialsException(who + " answered with a Username that contains ':', which Basic"
                    + " authentication cannot carry");
        }
        return new RegistryCredentials(user, secret);
    }

    /** Reads standard output on its own thread, so that a helper that writes much never blocks on a full pipe. */
    private static final class OutputReader extends Thread {
        private final InputStream in;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        private volatile boolean overflow;

        OutputReader(InputStream in) {
            super("ocimirror-credential-helper-output");
            setDaemon(true);
            this.in = in;
        }

        @Override
        public void run() {
            byte[] chunk = new byte[8192];
            try (in) {
                for (int n; (n = in.read(chunk)) >= 0; ) {
                    synchronized (buf) {
                        if (buf.size() + n > MAX_OUTPUT) {
                            overflow = true;
                        } else {
                            buf.write(chunk, 0, n);
                        }
                    }
                }
            } catch (IOException e) {
                // the process was killed: what was read is judged as it is
            }
        }

        /** What was read, or null if it was more than the limit. */
        byte[] bytes() {
            synchronized (buf) {
                return overflow ? null : buf.toByteArray();
            }
        }
    }
}
