package ocimirror.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A parsed Docker {@code config.json}, which is also the content of a Kubernetes
 * {@code kubernetes.io/dockerconfigjson} secret: {@code {"auths": {"<registry>": {...}}}}.
 * Keys may be a bare {@code host[:port]} or a URL such as {@code https://index.docker.io/v1/};
 * an entry holds {@code auth} (base64 of {@code user:password}) or {@code username} and
 * {@code password}. The legacy {@code .dockercfg} layout (the map without {@code auths}) is
 * read too. Entries are decoded when looked up, so one bad entry only fails the upstream that
 * uses it.
 */
public final class DockerConfigFile {

    // Names Docker Hub is known by in config files; they all mean the same registry.
    private static final Set<String> DOCKER_HUB = Set.of(
            "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com");

    private final String source;
    private final Map<String, Entry> entries;
    private final String credentialHelper;

    private record Entry(String key, JsonNode node) {
    }

    private DockerConfigFile(String source, Map<String, Entry> entries, String credentialHelper) {
        this.source = source;
        this.entries = entries;
        this.credentialHelper = credentialHelper;
    }

    /** Reads and parses {@code file}; the structure is checked, entries later. */
    public static DockerConfigFile read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CredentialsException("cannot read docker config " + file + ": " + e, e);
        }
        return parse(new String(bytes, StandardCharsets.UTF_8), file.toString());
    }

    /** Parses JSON text; {@code source} names it in error messages (a path or "secret x"). */
    public static DockerConfigFile parse(String json, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new CredentialsException(source + ": not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")"), e);
        }
        if (root == null || !root.isObject()) {
            throw new CredentialsException(source + ": expected a JSON object with \"auths\"");
        }
        JsonNode auths = root.get("auths");
        if (auths == null) {
            auths = legacyAuths(root);
        }
        if (auths == null || !auths.isObject()) {
            throw new CredentialsException(source + ": \"auths\" must be an object keyed by registry host");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String normalized = normalize(e.getKey());
            if (normalized != null) {
                // The first spelling wins when two keys name one registry, as in the docker CLI.
                entries.putIfAbsent(normalized, new Entry(e.getKey(), e.getValue()));
            }
        }
        String helper = root.hasNonNull("credsStore") ? root.get("credsStore").asText() : null;
        return new DockerConfigFile(source, entries, helper);
    }

    // .dockercfg: {"host": {"auth": ...}} with no "auths" wrapper.
    private static JsonNode legacyAuths(JsonNode root) {
        if (root.isEmpty()) {
            return null;
        }
        for (JsonNode v : root) {
            if (!v.isObject() || !(v.has("auth") || v.has("username"))) {
                return null;
            }
        }
        return root;
    }

    /** The registries that have an entry, normalized ({@code docker.io} for Docker Hub). */
    public List<String> registries() {
        return new ArrayList<>(entries.keySet());
    }

    /**
     * The credentials for {@code authority} ({@code host[:port]}); any Docker Hub name finds the
     * Docker Hub entry.
     *
     * @return empty if no entry names that registry
     * @throws CredentialsException if the entry exists but holds nothing usable
     */
    public Optional<RegistryCredentials> lookup(String authority) {
        String key = normalize(authority);
        Entry entry = key == null ? null : entries.get(key);
        if (entry == null) {
            return Optional.empty();
        }
        return Optional.of(decode(entry));
    }

    private RegistryCredentials decode(Entry entry) {
        String where = source + ": auths entry '" + entry.key() + "'";
        JsonNode n = entry.node();
        if (!n.isObject()) {
            throw new CredentialsException(where + " must be an object");
        }
        String auth = text(n, "auth");
        if (auth != null && !auth.isEmpty()) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(auth.replaceAll("\\s", "")), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new CredentialsException(where + ": \"auth\" is not valid base64");
            }
            int colon = decoded.indexOf(':');
            if (colon <= 0 || colon == decoded.length() - 1) {
                throw new CredentialsException(where + ": \"auth\" must be base64 of user:password");
            }
            return credentials(where, decoded.substring(0, colon), decoded.substring(colon + 1));
        }
        String user = text(n, "username");
        String password = text(n, "password");
        if (user != null && !user.isEmpty() && password != null && !password.isEmpty()) {
            return credentials(where, user, password);
        }
        if (user != null || password != null) {
            throw new CredentialsException(where + ": needs both \"username\" and \"password\"");
        }
        if (text(n, "identitytoken") != null || text(n, "registrytoken") != null) {
            throw new CredentialsException(where + ": holds only an identity/registry token, which ocimirror cannot"
                    + " use; give \"auth\" or \"username\" and \"password\"");
        }
        if (credentialHelper != null) {
            throw new CredentialsException(where + " is empty: its credentials are kept by the credential helper '"
                    + credentialHelper + "', which ocimirror does not run; write \"auth\" into the file instead");
        }
        throw new CredentialsException(where + " has neither \"auth\" nor \"username\" and \"password\"");
    }

    private static RegistryCredentials credentials(String where, String user, String password) {
        try {
            return new RegistryCredentials(user, password);
        } catch (IllegalArgumentException e) {
            throw new CredentialsException(where + ": " + e.getMessage());
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    /**
     * {@code https://Host:443/v1/} and {@code host} both become {@code host}; Docker Hub's
     * names all become {@code docker.io}. Null for a key that names no host.
     */
    static String normalize(String key) {
        if (key == null) {
            return null;
        }
        String s = key.trim();
        String authority;
        if (s.contains("://")) {
            try {
                URI u = new URI(s);
                authority = u.getRawAuthority();
                if (authority != null && u.getPort() >= 0) {
                    boolean defaultPort = ("https".equalsIgnoreCase(u.getScheme()) && u.getPort() == 443)
                            || ("http".equalsIgnoreCase(u.getScheme()) && u.getPort() == 80);
                    if (defaultPort) {
                        authority = authority.substring(0, authority.lastIndexOf(':'));
                    }
                }
            } catch (Exception e) {
                return null;
            }
        } else {
            int slash = s.indexOf('/');
            authority = slash >= 0 ? s.substring(0, slash) : s;
            if (authority.endsWith(":443")) {
                authority = authority.substring(0, authority.length() - 4);
            }
        }
        if (authority == null || authority.isEmpty()) {
            return null;
        }
        authority = authority.toLowerCase(Locale.ROOT);
        return DOCKER_HUB.contains(authority) ? "docker.io" : authority;
    }
}
