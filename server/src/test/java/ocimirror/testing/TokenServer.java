package ocimirror.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A minimal token service for distribution's {@code auth: token:}: issues ES256 JWTs whose
 * {@code x5c} header carries the signing certificate (which chains to the registry's
 * rootcertbundle) and whose {@code access} claim grants what was asked: every action to the
 * one valid user, {@code pull} to anonymous callers. Records every hit.
 */
public final class TokenServer implements AutoCloseable {

    /** One request to the endpoint. */
    public record Hit(String authorization, String service, List<String> scopes) {
    }

    private final List<Hit> hits = new CopyOnWriteArrayList<>();
    private final String issuer = "ocimirror-test-issuer";
    private final String service = "ocimirror-test-registry";
    private final HttpServer server;
    private final PrivateKey key;
    private final X509Certificate cert;
    private final String basic;
    private final ObjectMapper json = new ObjectMapper();
    private volatile long expiresIn = 60;
    private volatile boolean accessTokenField;

    public TokenServer(PrivateKey key, X509Certificate cert, String user, String password) throws IOException {
        this.key = key;
        this.cert = cert;
        this.basic = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.createContext("/token", this::handle);
        server.start();
    }

    public String issuer() {
        return issuer;
    }

    public String service() {
        return service;
    }

    /** Every hit so far, oldest first. */
    public List<Hit> hits() {
        return List.copyOf(hits);
    }

    /** The {@code expires_in} of tokens issued from now on, in seconds. */
    public void expiresIn(long seconds) {
        expiresIn = seconds;
    }

    /** Answer with {@code access_token} (OAuth2 style) instead of {@code token}. */
    public void accessTokenField(boolean use) {
        accessTokenField = use;
    }

    public String realm() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    /** Hits that asked for {@code scope}. */
    public List<Hit> hitsFor(String scope) {
        return hits.stream().filter(h -> h.scopes().contains(scope)).toList();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String svc = null;
            List<String> scopes = new ArrayList<>();
            String q = ex.getRequestURI().getRawQuery();
            for (String kv : q == null ? new String[0] : q.split("&")) {
                int eq = kv.indexOf('=');
                String k = eq < 0 ? kv : kv.substring(0, eq);
                String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                if (k.equals("service")) {
                    svc = v;
                } else if (k.equals("scope")) {
                    scopes.addAll(List.of(v.split(" ")));
                }
            }
            hits.add(new Hit(auth, svc, List.copyOf(scopes)));
            if (auth != null && !auth.equals(basic)) {
                byte[] body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}".getBytes();
                ex.sendResponseHeaders(401, body.length);
                ex.getResponseBody().write(body);
                return;
            }
            String token = jwt(auth != null, scopes);
            ObjectNode resp = json.createObjectNode();
            resp.put(accessTokenField ? "access_token" : "token", token);
            resp.put("expires_in", expiresIn);
            resp.put("issued_at", Instant.now().toString());
            byte[] body = json.writeValueAsBytes(resp);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    private String jwt(boolean authenticated, List<String> scopes) throws Exception {
        ObjectNode header = json.createObjectNode();
        header.put("typ", "JWT").put("alg", "ES256");
        header.putArray("x5c").add(Base64.getEncoder().encodeToString(cert.getEncoded()));
        long now = Instant.now().getEpochSecond();
        ObjectNode claims = json.createObjectNode();
        claims.put("iss", issuer).put("sub", authenticated ? "bob" : "").put("aud", service)
                .put("exp", now + 300).put("nbf", now - 10).put("iat", now).put("jti", UUID.randomUUID().toString());
        ArrayNode access = claims.putArray("access");
        for (String s : scopes) {
            String[] parts = s.split(":");
            if (parts.length < 3) {
                continue;
            }
            String name = String.join(":", List.of(parts).subList(1, parts.length - 1));
            ObjectNode a = access.addObject().put("type", parts[0]).put("name", name);
            ArrayNode actions = a.putArray("actions");
            for (String act : parts[parts.length - 1].split(",")) {
                if (authenticated || act.equals("pull")) {
                    actions.add(act);
                }
            }
        }
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String signingInput = b64.encodeToString(json.writeValueAsBytes(header)) + "."
                + b64.encodeToString(json.writeValueAsBytes(claims));
        // JOSE wants r||s, not DER: the P1363 form of ECDSA is exactly that.
        Signature sig = Signature.getInstance("SHA256withECDSAinP1363Format");
        sig.initSign(key);
        sig.update(signingInput.getBytes(StandardCharsets.US_ASCII));
        return signingInput + "." + b64.encodeToString(sig.sign());
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
