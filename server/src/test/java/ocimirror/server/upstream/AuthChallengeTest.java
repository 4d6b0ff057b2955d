package ocimirror.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AuthChallengeTest {

    @Test
    void parsesDockerHubBearerChallenge() {
        List<AuthChallenge> cs = AuthChallenge.parse("Bearer realm=\"https://auth.docker.io/token\","
                + "service=\"registry.docker.io\",scope=\"repository:library/nginx:pull\"");
        assertEquals(List.of(new AuthChallenge("bearer", Map.of("realm", "https://auth.docker.io/token",
                "service", "registry.docker.io", "scope", "repository:library/nginx:pull"))), cs);
    }

    @Test
    void parsesSeveralChallengesSpacingEscapesAndUnquotedValues() {
        List<AuthChallenge> cs = AuthChallenge.parse(
                "Basic realm=\"a \\\"quoted\\\" realm\" , Bearer realm=https://r.test/token , service = svc,"
                        + " error=\"insufficient_scope\"");
        assertEquals(2, cs.size());
        assertEquals("basic", cs.get(0).scheme());
        assertEquals("a \"quoted\" realm", cs.get(0).param("realm"));
        assertEquals("bearer", cs.get(1).scheme());
        assertEquals("https://r.test/token", cs.get(1).param("realm"));
        assertEquals("svc", cs.get(1).param("service"));
        assertEquals("insufficient_scope", cs.get(1).param("error"));
        assertNull(cs.get(1).param("scope"));
    }

    @Test
    void schemeAndParamNamesAreCaseInsensitive() {
        AuthChallenge c = AuthChallenge.parse("BEARER Realm=\"x\"").get(0);
        assertEquals("bearer", c.scheme());
        assertEquals("x", c.param("realm"));
    }

    @Test
    void toleratesGarbage() {
        assertEquals(List.of(), AuthChallenge.parse(null));
        assertEquals(List.of(), AuthChallenge.parse(""));
        assertEquals("basic", AuthChallenge.parse("Basic dXNlcjpwYXNz==").get(0).scheme());
        assertEquals("x", AuthChallenge.parse("Bearer realm=\"x").get(0).param("realm"));
    }

    @Test
    void retryAfterInSecondsOrAsHttpDate() {
        Clock clock = Clock.fixed(Instant.parse("2024-05-01T10:00:00Z"), ZoneOffset.UTC);
        HttpHeaders h = new DefaultHttpHeaders();
        assertNull(Responses.retryAfter(h, clock));
        h.set("Retry-After", "120");
        assertEquals(Duration.ofSeconds(120), Responses.retryAfter(h, clock));
        h.set("Retry-After", "Wed, 01 May 2024 10:00:30 GMT");
        assertEquals(Duration.ofSeconds(30), Responses.retryAfter(h, clock));
        h.set("Retry-After", "Wed, 01 May 2024 09:00:00 GMT");
        assertEquals(Duration.ZERO, Responses.retryAfter(h, clock));
        h.set("Retry-After", "soon");
        assertNull(Responses.retryAfter(h, clock));
    }

    @Test
    void errorDetailReadsOciErrorBodies() {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertEquals(": MANIFEST_UNKNOWN: manifest unknown", Responses.errorDetail(
                "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}".getBytes(), json));
        assertEquals(": Service Unavailable", Responses.errorDetail("Service\n Unavailable".getBytes(), json));
        assertEquals("", Responses.errorDetail(new byte[0], json));
    }
}
