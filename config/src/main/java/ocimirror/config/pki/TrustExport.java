package ocimirror.config.pki;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The CA in the shapes each kind of client wants, so that trusting the mirror is one command
 * instead of a day lost to {@code x509: certificate signed by unknown authority}. Pure functions:
 * nothing is read or written here.
 *
 * <p>Every format comes out as a file tree, a map from a relative path ('/'-separated, never
 * absolute, never {@code ..}) to the file's bytes, in a stable order. The CLI writes the tree under
 * {@code -o DIR}, or prints the content when the tree is a single file and no directory is given.
 *
 * <p>{@code mirror} is how clients address the mirror: {@code HOST}, {@code HOST:PORT} or
 * {@code [V6]:PORT}, without a scheme.
 */
public final class TrustExport {
    /** The TkgServiceConfiguration version of vSphere with Tanzu 7; later Supervisors still serve it. */
    public static final String TKG_API_VERSION = "run.tanzu.vmware.com/v1alpha1";
    /** The Supervisor's one TkgServiceConfiguration object is always called this. */
    public static final String TKG_OBJECT_NAME = "tkg-service-configuration";
    /** Default name of the exported pull secret. */
    public static final String DEFAULT_SECRET_NAME = "ocimirror-pull";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final YAMLMapper YAML = YAMLMapper.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            .build();
    private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

    /** The export formats, by their command-line names. */
    public enum Format {
        PEM("pem"),
        BASE64("base64"),
        TKG("tkg"),
        CONTAINERD("containerd"),
        DOCKER("docker"),
        K8S_SECRET("k8s-secret");

        private final String cliName;

        Format(String cliName) {
            this.cliName = cliName;
        }

        public String cliName() {
            return cliName;
        }

        /** Whether the output is a directory tree (must be written with {@code -o DIR}) rather than one file. */
        public boolean isTree() {
            return this == CONTAINERD || this == DOCKER;
        }

        public static Format fromName(String name) {
            for (Format f : values()) {
                if (f.cliName.equalsIgnoreCase(name.trim())) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown export format '" + name
                    + "' (expected pem, base64, tkg, containerd, docker or k8s-secret)");
        }
    }

    /**
     * What some formats need besides the CA and the mirror address; null fields are unset.
     *
     * @param upstreamHost containerd: the registry whose pulls go through the mirror ({@code docker.io},
     *                     {@code registry.example.com:5000}, or {@code _default} for every registry)
     * @param caPath       containerd: the {@code ca} value in hosts.toml; default {@code ca.crt}, which
     *                     containerd resolves against the hosts.toml directory
     * @param user         k8s-secret: user name (no ':')
     * @param password     k8s-secret: password
     * @param secretName   k8s-secret: the Secret's name; default {@value #DEFAULT_SECRET_NAME}
     * @param namespace    k8s-secret: the Secret's namespace; default none (kubectl's current one)
     */
    public record Options(String upstreamHost, String caPath, String user, String password, String secretName,
            String namespace) {
        public static Options none() {
            return new Options(null, null, null, null, null, null);
        }

        public Options withUpstreamHost(String h) {
            return new Options(h, caPath, user, password, secretName, namespace);
        }

        public Options withCaPath(String p) {
            return new Options(upstreamHost, p, user, password, secretName, namespace);
        }

        public Options withCredentials(String u, String p) {
            return new Options(upstreamHost, caPath, u, p, secretName, namespace);
        }

        public Options withSecret(String name, String ns) {
            return new Options(upstreamHost, caPath, user, password, name, ns);
        }
    }

    private TrustExport() {
    }

    /**
     * Any format as a file tree.
     *
     * @throws IllegalArgumentException naming the missing or malformed option
     */
    public static Map<String, byte[]> export(Format format, X509Certificate ca, String mirror, Options o) {
        requireNonNull(format, "format");
        requireNonNull(o, "options");
        return switch (format) {
            case PEM -> single("ca.crt", pem(ca));
            case BASE64 -> single("ca.crt.base64", base64(ca) + "\n");
            case TKG -> single("tkg-service-configuration.yaml", tkg(ca, mirror));
            case CONTAINERD -> containerd(ca, mirror, required(o.upstreamHost(), "the upstream host (--host)"),
                    o.caPath());
            case DOCKER -> docker(ca, mirror);
            case K8S_SECRET -> {
                String name = o.secretName() == null ? DEFAULT_SECRET_NAME : o.secretName();
                yield single(name + ".yaml", k8sSecret(mirror, required(o.user(), "the user (--user)"),
                        required(o.password(), "the password"), name, o.namespace()));
            }
        };
    }

    /** The CA certificate as one PEM block. */
    public static String pem(X509Certificate ca) {
        return Pem.encodeCertificate(requireNonNull(ca, "ca"));
    }

    /**
     * The PEM, base64-encoded once more, on one line: what TKG's
     * {@code additionalTrustedCAs[].data} and similar fields take.
     */
    public static String base64(X509Certificate ca) {
        return Base64.getEncoder().encodeToString(pem(ca).getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * A complete {@code TkgServiceConfiguration} for the vSphere with Tanzu Supervisor: nodes of
     * Tanzu Kubernetes clusters created afterwards trust the CA. The entry is named after the mirror.
     */
    public static String tkg(X509Certificate ca, String mirror) {
        HostPort m = HostPort.parse(mirror, "mirror");
        ObjectNode root = YAML.createObjectNode();
        root.put("apiVersion", TKG_API_VERSION);
        root.put("kind", "TkgServiceConfiguration");
        root.putObject("metadata").put("name", TKG_OBJECT_NAME);
        ObjectNode entry = root.putObject("spec").putObject("trust").putArray("additionalTrustedCAs").addObject();
        entry.put("name", tkgEntryName(m));
        entry.put("data", base64(ca));
        String subject = ca.getSubjectX500Principal().getName().replaceAll("\\p{Cntrl}", "?");
        return "# Trust for the CA " + subject
                + "\n# (SHA-256 " + CertificateAuthority.fingerprint(ca) + ")."
                + "\n# Apply on the Supervisor. additionalTrustedCAs is replaced as a whole: first add the entries"
                + "\n# already in `kubectl get tkgserviceconfiguration " + TKG_OBJECT_NAME + " -o yaml`.\n"
                + yaml(root);
    }

    /**
     * containerd's registry host layout for {@code upstreamHost}: {@code certs.d/H/hosts.toml}
     * sends pulls and resolves to the mirror first (then to H itself when the mirror fails), and
     * {@code certs.d/H/ca.crt} holds the CA. Write it under containerd's {@code config_path} parent
     * (usually {@code /etc/containerd}), or pass that {@code certs.d} to {@code ctr --hosts-dir}.
     *
     * @param caPath the {@code ca} value; null for {@code ca.crt}, which containerd resolves
     *               against the directory of hosts.toml (absolute paths are used as they are)
     */
    public static Map<String, byte[]> containerd(X509Certificate ca, String mirror, String upstreamHost, String caPath) {
        HostPort m = HostPort.parse(mirror, "mirror");
        String h = "_default".equals(upstreamHost) ? upstreamHost : HostPort.parse(upstreamHost, "upstream host").text();
        String caValue = caPath == null || caPath.isBlank() ? "ca.crt" : caPath;
        StringBuilder toml = new StringBuilder()
                .append("# containerd registry hosts for ").append(h).append(", written by ocimirror:\n")
                .append("# pulls go to the mirror ").append(m.text()).append(" first.\n");
        if (!"_default".equals(h)) {
            // Docker Hub's registry API is not at docker.io itself.
            String server = "docker.io".equals(h) ? "registry-1.docker.io" : h;
            toml.append("server = ").append(tomlString("https://" + server)).append("\n");
        }
        toml.append("\n[host.").append(tomlString("https://" + m.text())).append("]\n")
                .append("  capabilities = [\"pull\", \"resolve\"]\n")
                .append("  ca = ").append(tomlString(caValue)).append("\n");
        Map<String, byte[]> out = new LinkedHashMap<>();
        out.put("certs.d/" + h + "/hosts.toml", toml.toString().getBytes(StandardCharsets.UTF_8));
        out.put("certs.d/" + h + "/ca.crt", pem(ca).getBytes(StandardCharsets.US_ASCII));
        return Collections.unmodifiableMap(out);
    }

    /**
     * Docker's (and Podman's, skopeo's {@code --cert-dir}) layout: {@code certs.d/<mirror>/ca.crt},
     * to be written under {@code /etc/docker} (or {@code /etc/containers}).
     */
    public static Map<String, byte[]> docker(X509Certificate ca, String mirror) {
        HostPort m = HostPort.parse(mirror, "mirror");
        return single("certs.d/" + m.text() + "/ca.crt", pem(ca));
    }

    /**
     * A {@code kubernetes.io/dockerconfigjson} Secret for pulling from the mirror as {@code user}:
     * its {@code .dockerconfigjson} is the base64 of
     * {@code {"auths":{"<mirror>":{"username":..,"password":..,"auth":base64(user:password)}}}}.
     *
     * @param namespace null to leave it to kubectl
     */
    public static String k8sSecret(String mirror, String user, String password, String secretName, String namespace) {
        HostPort m = HostPort.parse(mirror, "mirror");
        requireNonNull(user, "user");
        requireNonNull(password, "password");
        if (user.isEmpty() || user.indexOf(':') >= 0) {
            throw new IllegalArgumentException("user must be non-empty and without ':' (Basic authentication splits on it)");
        }
        String name = secretName == null ? DEFAULT_SECRET_NAME : secretName;
        if (name.length() > 253 || !DNS_SUBDOMAIN.matcher(name).matches()) {
            throw new IllegalArgumentException("secret name '" + name + "' is not a Kubernetes name"
                    + " (lower-case letters, digits, '-' and '.')");
        }
        if (namespace != null && !DNS_LABEL.matcher(namespace).matches()) {
            throw new IllegalArgumentException("namespace '" + namespace + "' is not a Kubernetes namespace name");
        }
        ObjectNode config = JSON.createObjectNode();
        ObjectNode auth = config.putObject("auths").putObject(m.text());
        auth.put("username", user);
        auth.put("password", password);
        auth.put("auth", Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)));
        String dockerConfig;
        try {
            dockerConfig = JSON.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }

        ObjectNode root = YAML.createObjectNode();
        root.put("apiVersion", "v1");
        root.put("kind", "Secret");
        ObjectNode meta = root.putObject("metadata");
        meta.put("name", name);
        if (namespace != null) {
            meta.put("namespace", namespace);
        }
        root.put("type", "kubernetes.io/dockerconfigjson");
        root.putObject("data").put(".dockerconfigjson",
                Base64.getEncoder().encodeToString(dockerConfig.getBytes(StandardCharsets.UTF_8)));
        return "# Pull secret for the mirror " + m.text() + ": reference it in imagePullSecrets.\n" + yaml(root);
    }

    /** The {@code additionalTrustedCAs} entry name for a mirror: its address made a Kubernetes-style name. */
    static String tkgEntryName(HostPort m) {
        String n = m.text().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]+", "-").replaceAll("^[-.]+|[-.]+$", "");
        return n.isEmpty() ? "ocimirror" : n;
    }

    private static String required(String value, String what) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("this export format needs " + what);
        }
        return value;
    }

    private static Map<String, byte[]> single(String path, String content) {
        return Map.of(path, content.getBytes(StandardCharsets.UTF_8));
    }

    private static String yaml(ObjectNode root) {
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A TOML basic string: quotes, backslashes and control characters escaped. */
    static String tomlString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        sb.append(String.format("\\u%04X", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
