package ocimirror.config.pki;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TrustExportTest {
    private static final String MIRROR = "mirror.example.com:5000";
    private static X509Certificate ca;

    @BeforeAll
    static void makeCa() {
        ca = CertificateAuthority.create(KeyAlgorithm.EC_P256, Clock.systemUTC()).certificate();
    }

    @Test
    void pemIsTheCaCertificate() throws Exception {
        Map<String, byte[]> tree = TrustExport.export(TrustExport.Format.PEM, ca, MIRROR, TrustExport.Options.none());
        assertEquals(Set.of("ca.crt"), tree.keySet());
        assertEquals(List.of(ca), Pem.parseCertificates(utf8(tree.get("ca.crt")), "pem"));
        assertEquals(TrustExport.pem(ca), utf8(tree.get("ca.crt")));
    }

    @Test
    void base64IsThePemEncodedOnceOnOneLine() throws Exception {
        String b64 = TrustExport.base64(ca);
        assertFalse(b64.contains("\n"));
        String pem = utf8(Base64.getDecoder().decode(b64));
        assertTrue(pem.startsWith("-----BEGIN CERTIFICATE-----"), "decodes to the PEM text, not DER");
        assertEquals(List.of(ca), Pem.parseCertificates(pem, "base64"));
        Map<String, byte[]> tree = TrustExport.export(TrustExport.Format.BASE64, ca, MIRROR, TrustExport.Options.none());
        assertEquals(b64 + "\n", utf8(tree.get("ca.crt.base64")));
    }

    @Test
    void tkgIsACompleteTkgServiceConfiguration() throws Exception {
        String yaml = TrustExport.tkg(ca, MIRROR);
        JsonNode doc = new YAMLMapper().readTree(yaml);

        assertEquals("run.tanzu.vmware.com/v1alpha1", doc.path("apiVersion").asText());
        assertEquals("TkgServiceConfiguration", doc.path("kind").asText());
        assertEquals("tkg-service-configuration", doc.path("metadata").path("name").asText());
        JsonNode cas = doc.path("spec").path("trust").path("additionalTrustedCAs");
        assertEquals(1, cas.size());
        assertEquals("mirror.example.com-5000", cas.get(0).path("name").asText());
        String pem = utf8(Base64.getDecoder().decode(cas.get(0).path("data").asText()));
        assertEquals(List.of(ca), Pem.parseCertificates(pem, "tkg data"));
        assertTrue(yaml.startsWith("# "), "explains itself");
        assertEquals(Set.of("tkg-service-configuration.yaml"),
                TrustExport.export(TrustExport.Format.TKG, ca, MIRROR, TrustExport.Options.none()).keySet());
    }

    @Test
    void containerdWritesHostsTomlAndCaCrtForTheUpstream() throws Exception {
        Map<String, byte[]> tree = TrustExport.export(TrustExport.Format.CONTAINERD, ca, MIRROR,
                TrustExport.Options.none().withUpstreamHost("registry.example.org:8443"));

        assertEquals(List.of("certs.d/registry.example.org:8443/hosts.toml", "certs.d/registry.example.org:8443/ca.crt"),
                List.copyOf(tree.keySet()));
        JsonNode toml = new TomlMapper().readTree(tree.get("certs.d/registry.example.org:8443/hosts.toml"));
        assertEquals("https://registry.example.org:8443", toml.path("server").asText());
        JsonNode host = toml.path("host").path("https://mirror.example.com:5000");
        assertEquals(List.of("pull", "resolve"), new ObjectMapper().convertValue(host.path("capabilities"), List.class));
        assertEquals("ca.crt", host.path("ca").asText());
        assertEquals(1, toml.path("host").size());
        // containerd joins a relative ca path to the hosts.toml directory: the file it names is in the tree.
        String caFile = Path.of("certs.d/registry.example.org:8443").resolve(host.path("ca").asText()).toString();
        assertEquals(List.of(ca), Pem.parseCertificates(utf8(tree.get(caFile)), "containerd ca.crt"));
    }

    @Test
    void containerdKnowsDockerHubsApiHostAndTheDefaultNamespace() throws Exception {
        Map<String, byte[]> hub = TrustExport.containerd(ca, "[fd00::5]:5000", "docker.io", "/etc/containerd/certs.d/docker.io/ca.crt");
        JsonNode toml = new TomlMapper().readTree(hub.get("certs.d/docker.io/hosts.toml"));
        assertEquals("https://registry-1.docker.io", toml.path("server").asText());
        assertEquals("/etc/containerd/certs.d/docker.io/ca.crt", toml.path("host").path("https://[fd00::5]:5000").path("ca").asText());

        Map<String, byte[]> all = TrustExport.containerd(ca, MIRROR, "_default", null);
        JsonNode def = new TomlMapper().readTree(all.get("certs.d/_default/hosts.toml"));
        assertTrue(def.path("server").isMissingNode(), "no server for the fallback namespace");
        assertEquals("ca.crt", def.path("host").path("https://mirror.example.com:5000").path("ca").asText());
    }

    @Test
    void dockerWritesCertsDOfTheMirror() throws Exception {
        Map<String, byte[]> tree = TrustExport.export(TrustExport.Format.DOCKER, ca, MIRROR, TrustExport.Options.none());
        assertEquals(Set.of("certs.d/mirror.example.com:5000/ca.crt"), tree.keySet());
        assertEquals(List.of(ca), Pem.parseCertificates(utf8(tree.get("certs.d/mirror.example.com:5000/ca.crt")), "docker"));
    }

    @Test
    void k8sSecretHoldsADockerConfigJsonWithBasicAuth() throws Exception {
        Map<String, byte[]> tree = TrustExport.export(TrustExport.Format.K8S_SECRET, ca, MIRROR,
                TrustExport.Options.none().withCredentials("puller", "pä:ss\"word").withSecret("mirror-pull", "apps"));
        assertEquals(Set.of("mirror-pull.yaml"), tree.keySet());
        JsonNode secret = new YAMLMapper().readTree(tree.get("mirror-pull.yaml"));

        assertEquals("v1", secret.path("apiVersion").asText());
        assertEquals("Secret", secret.path("kind").asText());
        assertEquals("kubernetes.io/dockerconfigjson", secret.path("type").asText());
        assertEquals("mirror-pull", secret.path("metadata").path("name").asText());
        assertEquals("apps", secret.path("metadata").path("namespace").asText());
        JsonNode config = new ObjectMapper().readTree(Base64.getDecoder().decode(
                secret.path("data").path(".dockerconfigjson").asText()));
        JsonNode entry = config.path("auths").path(MIRROR);
        assertEquals("puller", entry.path("username").asText());
        assertEquals("pä:ss\"word", entry.path("password").asText());
        assertEquals("puller:pä:ss\"word", utf8(Base64.getDecoder().decode(entry.path("auth").asText())));
        assertEquals(1, config.path("auths").size());
    }

    @Test
    void k8sSecretDefaultsItsNameAndLeavesTheNamespaceOut() throws Exception {
        JsonNode secret = new YAMLMapper().readTree(TrustExport.k8sSecret(MIRROR, "u", "p", null, null));
        assertEquals(TrustExport.DEFAULT_SECRET_NAME, secret.path("metadata").path("name").asText());
        assertTrue(secret.path("metadata").path("namespace").isMissingNode());
    }

    @Test
    void refusesBadInputWithAReason() {
        assertRefused("without scheme", () -> TrustExport.docker(ca, "https://mirror:5000"));
        assertRefused("not a valid host", () -> TrustExport.docker(ca, ".."));
        assertRefused("without scheme or path", () -> TrustExport.containerd(ca, MIRROR, "../../etc", null));
        assertRefused("brackets", () -> TrustExport.docker(ca, "fd00::5:5000"));
        assertRefused("bad port", () -> TrustExport.docker(ca, "mirror:99999"));
        assertRefused("needs the upstream host", () -> TrustExport.export(TrustExport.Format.CONTAINERD, ca, MIRROR,
                TrustExport.Options.none()));
        assertRefused("needs the user", () -> TrustExport.export(TrustExport.Format.K8S_SECRET, ca, MIRROR,
                TrustExport.Options.none()));
        assertRefused("without ':'", () -> TrustExport.k8sSecret(MIRROR, "a:b", "p", null, null));
        assertRefused("not a Kubernetes name", () -> TrustExport.k8sSecret(MIRROR, "u", "p", "Bad_Name", null));
        assertRefused("unknown export format", () -> TrustExport.Format.fromName("jks"));
    }

    @Test
    void formatsByName() {
        for (TrustExport.Format f : TrustExport.Format.values()) {
            assertEquals(f, TrustExport.Format.fromName(f.cliName()));
        }
        assertTrue(TrustExport.Format.CONTAINERD.isTree() && TrustExport.Format.DOCKER.isTree());
        assertFalse(TrustExport.Format.TKG.isTree());
    }

    @Test
    void tomlStringsAreEscaped() throws Exception {
        String v = "C:\\certs\\\"odd\".crt";
        JsonNode n = new TomlMapper().readTree("k = " + TrustExport.tomlString(v) + "\n");
        assertEquals(v, n.path("k").asText());
    }

    private static void assertRefused(String reason, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
