package ocimirror.server.doctor;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import ocimirror.config.CredentialHelper;
import ocimirror.config.CredentialSource;
import ocimirror.config.CredentialsException;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.pullthrough.UpstreamManifestCheck;
import ocimirror.server.upstream.UpstreamClient;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.server.upstream.UpstreamHead;
import ocimirror.server.upstream.UpstreamProbes;
import ocimirror.storage.oci.MediaTypes;

/**
 * The registry-level checks of one upstream, once a connection works: whether the configured
 * credentials get past {@code GET /v2/} (Basic, or a Bearer token from the challenge's realm,
 * fetched by the mirror's own code), and a manifest {@code HEAD} through the mirror's own
 * upstream client.
 */
final class RegistryChecks {

    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST,
            MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.DOCKER_MANIFEST);

    private final UpstreamConfig upstream;
    private final Duration timeout;
    private final Clock clock;

    RegistryChecks(UpstreamConfig upstream, Duration timeout, Clock clock) {
        this.upstream = Objects.requireNonNull(upstream, "upstream");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    private String subject(String check) {
        return "upstream '" + upstream.name() + "' " + check;
    }

    /**
     * {@code GET /v2/}, answering a 401 as the mirror would.
     *
     * @param tls the context of the TLS check (the upstream's trust); null for plain HTTP
     * @return whether the upstream let us in
     */
    boolean credentials(SSLContext tls, Consumer<Check> out) {
        String s = subject("credentials");
        Optional<RegistryCredentials> creds;
        try {
            creds = RegistryCredentials.forUpstream(upstream);
        } catch (CredentialsException e) {
            out.accept(Check.fail(s, e.getMessage(), upstream.credentials() instanceof CredentialSource.Helper h
                    ? "run `" + CredentialHelper.byHand(h, CredentialHelper.serverUrl(upstream)) + "` as the mirror's"
                            + " user and fix what it says (its login, its configuration or its environment)"
                    : "fix the credentials of upstream '" + upstream.name()
                    + "' (`ocimirror config check FILE` reads them as serve does)"));
            return false;
        }
        if (upstream.credentials() instanceof CredentialSource.Helper h) {
            out.accept(Check.ok(subject("credential helper"), CredentialHelper.describe(h) + " answered for "
                    + CredentialHelper.serverUrl(upstream) + " (user '" + creds.map(RegistryCredentials::username)
                    .orElse("") + "')"));
        }
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER);
        if (tls != null) {
            b.sslContext(tls);
        }
        HttpClient http = b.build();
        URI v2 = upstream.url().resolve("/v2/");
        String get = "GET " + v2;
        HttpResponse<byte[]> first;
        try {
            first = send(http, v2, null);
        } catch (IOException e) {
            out.accept(Check.fail(s, get + " failed: " + describe(e), "the connection worked a moment ago: check"
                    + " whether the upstream closes connections from this machine, or try again"));
            return false;
        }
        if (first.statusCode() == 200) {
            out.accept(Check.ok(s, get + " answered 200 without credentials" + creds.map(c -> "; the credentials of user '"
                    + c.username() + "' are not needed for it (private repositories may need them)").orElse("")));
            return true;
        }
        if (first.statusCode() != 401) {
            out.accept(Check.fail(s, get + " answered " + first.statusCode() + " (a registry answers 200 or 401):"
                    + " this is not a registry's API", "check the url of upstream '" + upstream.name() + "': scheme,"
                    + " host and port of the registry itself, no path"));
            return false;
        }
        List<String> challengeHeaders = first.headers().allValues("WWW-Authenticate");
        List<UpstreamProbes.Challenge> challenges = UpstreamProbes.challenges(challengeHeaders);
        if (challenges.isEmpty()) {
            out.accept(Check.fail(s, get + " answered 401 without a WWW-Authenticate challenge", "check the url of"
                    + " upstream '" + upstream.name() + "': whatever answers there does not speak the registry API"));
            return false;
        }
        Optional<UpstreamProbes.Challenge> bearer = challenges.stream().filter(c -> c.scheme().equals("bearer")).findFirst();
        String as = creds.map(c -> "user '" + c.username() + "'").orElse("anonymous");
        String header;
        try {
            header = UpstreamProbes.authorization(upstream, creds, challengeHeaders, null, http, timeout, clock)
                    .get(timeout.toMillis() * 2, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            UpstreamException ue = UpstreamException.find(e);
            String msg = ue != null ? ue.getMessage() : String.valueOf(e.getCause());
            String fix;
            if (ue != null && ue.kind() == UpstreamException.Kind.UNAUTHORIZED) {
                fix = creds.isPresent() ? "check the user name and password in " + source() : "the token service wants"
                        + " credentials: give upstream '" + upstream.name() + "' credentials (username and passwordFile,"
                        + " or dockerConfig)";
            } else {
                fix = "check that the token endpoint " + bearer.map(c -> c.param("realm")).orElse("(none)")
                        + " is reachable from this machine and answers with a token";
            }
            out.accept(Check.fail(s, msg, fix));
            return false;
        } catch (TimeoutException e) {
            out.accept(Check.fail(s, "no token from " + bearer.map(c -> c.param("realm")).orElse("the realm")
                    + " within " + NetworkChecks.seconds(timeout.multipliedBy(2)), "check that the token endpoint is"
                    + " reachable from this machine"));
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.accept(Check.fail(s, "interrupted", "run it again"));
            return false;
        }
        if (header == null) {
            out.accept(Check.fail(s, get + " asks for Basic credentials and upstream '" + upstream.name() + "' has none",
                    "give upstream '" + upstream.name() + "' credentials: {username: USER, passwordFile: FILE}"
                            + " or {dockerConfig: FILE}"));
            return false;
        }
        String how = header.startsWith("Bearer ")
                ? "Bearer token from " + bearer.map(c -> c.param("realm")).orElse("the realm") + " (" + as + ")"
                : "Basic credentials of " + as;
        HttpResponse<byte[]> second;
        try {
            second = send(http, v2, header);
        } catch (IOException e) {
            out.accept(Check.fail(s, get + " with the " + how + " failed: " + describe(e), "try again"));
            return false;
        }
        if (second.statusCode() == 200) {
            out.accept(Check.ok(s, how + " accepted (" + get + " answered 200)"));
            return true;
        }
        String fix = header.startsWith("Basic ")
                ? "check the user name and password in " + source()
                : "the registry does not accept the tokens of its own realm: its token service and its auth settings"
                        + " (issuer, service, root certificate) disagree; tell the upstream's operator";
        out.accept(Check.fail(s, "the upstream refused the " + how + " (" + get + " answered " + second.statusCode()
                + ")", fix));
        return false;
    }

    /**
     * {@code HEAD /v2/<repo>/manifests/<ref>} through the mirror's own client for the upstream
     * (built by {@code clients}; its timeouts are the doctor's, without retries).
     */
    void manifest(ImageRef image, Function<UpstreamConfig, UpstreamClient> clients, Consumer<Check> out) {
        String s = subject("manifest");
        Duration t = timeout;
        UpstreamConfig quick = new UpstreamConfig(upstream.name(), upstream.url(), upstream.aliases(),
                upstream.isDefault(), upstream.caCert(), upstream.credentials(), upstream.tagTtl(), upstream.plainHttp(),
                new UpstreamConfig.Timeouts(t, t, t), 0);
        try (UpstreamClient client = clients.apply(quick)) {
            UpstreamHead head = client.headManifest(image.repo(), image.reference(), ACCEPT)
                    .get(t.toMillis() * 3, TimeUnit.MILLISECONDS);
            if (!UpstreamManifestCheck.mayBeManifest(head.contentType())) {
                // The mirror refuses such answers (503), so every pull through it would fail.
                out.accept(Check.fail(s, "HEAD " + image + " answered " + head.contentType() + ", not a manifest",
                        "something between this machine and " + upstream.url() + " answers in the registry's place"
                                + " (a captive portal, a web proxy's sign-in page): let the mirror reach the"
                                + " registry directly"));
                return;
            }
            out.accept(Check.ok(s, "HEAD " + image + " found: " + (head.digest() == null ? "no digest header"
                    : head.digest()) + (head.contentType() == null ? "" : " (" + head.contentType() + ")")));
        } catch (ExecutionException e) {
            UpstreamException ue = UpstreamException.find(e);
            if (ue == null) {
                out.accept(Check.fail(s, "HEAD " + image + " failed: " + e.getCause(), "see the message"));
                return;
            }
            String fix = switch (ue.kind()) {
                case NOT_FOUND -> "check the repository and tag (--repo): the upstream has no " + image;
                case UNAUTHORIZED -> "the credentials of upstream '" + upstream.name() + "' may not pull " + image.repo()
                        + " (many registries also answer so for a repository that does not exist): check both";
                case RATE_LIMITED -> "the upstream limits this machine's requests: configure credentials for a higher"
                        + " limit, or wait";
                default -> "the mirror's pulls from upstream '" + upstream.name() + "' fail the same way: see the message";
            };
            out.accept(Check.fail(s, "HEAD " + image + ": " + ue.getMessage(), fix));
        } catch (TimeoutException e) {
            out.accept(Check.fail(s, "HEAD " + image + ": no answer within " + NetworkChecks.seconds(t.multipliedBy(3)),
                    "the upstream is slow: try again, or raise --timeout"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.accept(Check.fail(s, "interrupted", "run it again"));
        } catch (RuntimeException e) {
            out.accept(Check.fail(s, "cannot build the upstream client: " + e.getMessage(),
                    "fix the configuration of upstream '" + upstream.name() + "'"));
        }
    }

    private HttpResponse<byte[]> send(HttpClient http, URI uri, String authorization) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout).GET()
                .header("Accept", "application/json");
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private String describe(IOException e) {
        return e instanceof HttpTimeoutException ? "no answer within " + NetworkChecks.seconds(timeout)
                : String.valueOf(e.getMessage() != null ? e.getMessage() : e);
    }

    private String source() {
        CredentialSource c = upstream.credentials();
        if (c instanceof CredentialSource.PasswordFile p) {
            return "user '" + p.username() + "' and passwordFile " + p.passwordFile() + " of upstream '"
                    + upstream.name() + "'";
        }
        if (c instanceof CredentialSource.DockerConfig d) {
            return "the '" + upstream.authority() + "' entry of dockerConfig " + d.file() + " of upstream '"
                    + upstream.name() + "'";
        }
        if (c instanceof CredentialSource.Helper h) {
            return "what " + CredentialHelper.describe(h) + " answers (`" + CredentialHelper.byHand(h,
                    CredentialHelper.serverUrl(upstream)) + "`)";
        }
        return "the credentials of upstream '" + upstream.name() + "'";
    }
}
