package ocimirror.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import ocimirror.config.ClientAuthorization;
import ocimirror.config.RegistryCredentials;
import ocimirror.config.UpstreamConfig;
import ocimirror.server.auth.UpstreamAuthorization.Outcome;
import ocimirror.server.auth.UpstreamAuthorization.Verdict;
import ocimirror.server.upstream.UpstreamException;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.RepoName;
import ocimirror.testing.MutableClock;
import org.junit.jupiter.api.Test;

/** The decision and its memory, with a scripted upstream and a clock the test moves. */
class UpstreamAuthorizationTest {
    private static final RepoName REPO = RepoName.of("team/app");
    private static final String ALICE = basic("alice", "alice-pw");
    private static final String BOB = basic("bob", "bob-pw");

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-08T00:00:00Z"));
    private final UpstreamConfig corp = UpstreamConfig.builder("corp", "https://registry.corp")
            .authorization(ClientAuthorization.upstream(Duration.ofSeconds(60))).build();
    /** What the upstream was asked, and what it answers next (a status, or a failure). */
    private final List<String> asked = new ArrayList<>();
    private final Map<String, Integer> statusByUser = new java.util.HashMap<>(Map.of("alice", 200, "bob", 401));
    private CompletableFuture<Integer> pending;
    private RuntimeException outage;
    private final UpstreamAuthorization authz = new UpstreamAuthorization(Map.of("corp", this::probe), clock, 100,
            "ocimirror-test");

    private CompletableFuture<Integer> probe(RepoName repo, String reference, RegistryCredentials client) {
        asked.add(client.username() + " " + repo + " " + reference);
        if (pending != null) {
            return pending;
        }
        if (outage != null) {
            return CompletableFuture.failedFuture(outage);
        }
        // The upstream knows passwords, not just names.
        boolean known = client.password().equals(client.username() + "-pw");
        return CompletableFuture.completedFuture(known ? statusByUser.get(client.username()) : 401);
    }

    @Test
    void anAcceptedClientIsRememberedForTheTtlOnly() throws Exception {
        assertEquals(new Verdict(Outcome.ALLOWED, "alice"), check(ALICE));
        clock.advance(Duration.ofSeconds(59));
        assertEquals(Outcome.ALLOWED, check(ALICE).outcome());
        assertEquals(List.of("alice team/app v1"), asked, "the second answer came from memory");
        clock.advance(Duration.ofSeconds(1));
        statusByUser.put("alice", 401); // revoked upstream: seen once the answer is a TTL old
        assertEquals(Outcome.UNAUTHORIZED, check(ALICE).outcome());
        assertEquals(2, asked.size());
        UpstreamAuthorization.Stats s = authz.stats().get("corp");
        assertEquals(2, s.checks());
        assertEquals(1, s.cached());
        assertEquals(2, s.allowed());
        assertEquals(1, s.denied());
    }

    @Test
    void answersAreKeptPerCredentialAndRepository() throws Exception {
        assertEquals(Outcome.ALLOWED, check(ALICE).outcome());
        assertEquals(Outcome.UNAUTHORIZED, check(BOB).outcome(), "bob does not ride on alice's answer");
        assertEquals(Outcome.UNAUTHORIZED, check(BOB).outcome());
        assertEquals(Outcome.UNAUTHORIZED, check(basic("alice", "guess")).outcome(),
                "another password of the same user is another credential");
        statusByUser.put("alice", 403);
        assertEquals(Outcome.DENIED, authz.check(corp, RepoName.of("team/other"), "latest", ALICE).get().outcome());
        assertEquals(List.of("alice team/app v1", "bob team/app v1", "alice team/app v1", "alice team/other latest"),
                asked);
    }

    @Test
    void aNotFoundIsAnAcceptanceAndARedirectToo() throws Exception {
        statusByUser.put("alice", 404);
        statusByUser.put("bob", 307);
        assertEquals(Outcome.ALLOWED, check(ALICE).outcome());
        assertEquals(Outcome.ALLOWED, check(BOB).outcome());
    }

    @Test
    void withoutBasicCredentialsTheUpstreamIsNotAsked() throws Exception {
        for (String header : new String[] {null, "", "Bearer abc", "Basic !!!", basic("", "pw"), basic("alice", ""),
                "Basic " + Base64.getEncoder().encodeToString("nocolon".getBytes(StandardCharsets.UTF_8))}) {
            Verdict v = check(header);
            assertEquals(Outcome.CHALLENGE, v.outcome(), String.valueOf(header));
            assertNull(v.user());
        }
        assertTrue(asked.isEmpty(), asked.toString());
        assertEquals("Basic realm=\"ocimirror-test\"", authz.challenge());
    }

    @Test
    void anUnreachableUpstreamIs503UnlessAValidAnswerIsRemembered() throws Exception {
        assertEquals(Outcome.ALLOWED, check(ALICE).outcome());
        outage = new UpstreamException(UpstreamException.Kind.UNREACHABLE, "cannot connect to https://registry.corp");
        clock.advance(Duration.ofSeconds(30));
        assertEquals(Outcome.ALLOWED, check(ALICE).outcome(), "remembered and still valid");
        clock.advance(Duration.ofSeconds(30));
        ExecutionException e = assertThrows(ExecutionException.class, () -> check(ALICE));
        assertEquals(OciError.UNAVAILABLE, ((OciException) e.getCause()).error());
        assertTrue(e.getCause().getMessage().contains("cannot connect"), e.getCause().getMessage());
        assertEquals(1, authz.stats().get("corp").unavailable());
        outage = null;
        assertEquals(Outcome.ALLOWED, check(ALICE).outcome(), "a failure is not remembered");
    }

    @Test
    void concurrentChecksShareOneProbe() throws Exception {
        pending = new CompletableFuture<>();
        CompletableFuture<Verdict> first = authz.check(corp, REPO, "v1", ALICE);
        CompletableFuture<Verdict> second = authz.check(corp, REPO, "v1", ALICE);
        assertFalse(first.isDone());
        pending.complete(200);
        assertEquals(Outcome.ALLOWED, first.get().outcome());
        assertEquals(Outcome.ALLOWED, second.get().outcome());
        assertEquals(1, asked.size());
    }

    @Test
    void anUpstreamWithoutAProbeFailsClosed() {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> UpstreamAuthorization.none().check(corp, REPO, "v1", ALICE).get());
        assertEquals(OciError.UNAVAILABLE, ((OciException) e.getCause()).error());
        assertFalse(UpstreamAuthorization.none().delegates());
        assertSame(authz.stats().get("corp"), authz.stats().get("corp"));
    }

    private Verdict check(String header) throws Exception {
        return authz.check(corp, REPO, "v1", header).get();
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }
}
