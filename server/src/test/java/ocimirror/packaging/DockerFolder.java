package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.KeyAlgorithm;
import ocimirror.config.pki.ServerNames;
import ocimirror.server.cli.Main;
import picocli.CommandLine;

/**
 * The repository's {@code docker/} folder as the packaging tests read it: where it is, its files
 * parsed with real YAML, JSON and TOML parsers, and the {@code ocimirror} command line run in
 * this JVM (what an operator's {@code ocimirror ...} would print and write).
 */
final class DockerFolder {
    static final YAMLMapper YAML = new YAMLMapper();
    static final ObjectMapper JSON = new ObjectMapper();
    static final TomlMapper TOML = new TomlMapper();
    /** The mirror address every example under docker/examples is written for. */
    static final String EXAMPLE_MIRROR = "mirror.example:5000";

    private DockerFolder() {
    }

    /** The repository root: the nearest directory above the working directory holding docker/Dockerfile. */
    static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("docker/Dockerfile")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new AssertionError("no docker/Dockerfile above " + Path.of("").toAbsolutePath());
    }

    static Path docker() {
        return root().resolve("docker");
    }

    /** Files under {@code dir} whose names end in one of {@code suffixes}, sorted. */
    static List<Path> files(Path dir, String... suffixes) {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile)
                    .filter(p -> Stream.of(suffixes).anyMatch(s -> p.getFileName().toString().endsWith(s)))
                    .sorted(Comparator.naturalOrder()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every non-empty document of a (multi-document) YAML file. */
    static List<JsonNode> yamlDocuments(Path file) {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            while (it.hasNextValue()) {
                JsonNode doc = it.nextValue();
                if (doc != null && !doc.isNull() && !doc.isMissingNode()) {
                    docs.add(doc);
                }
            }
        } catch (IOException e) {
            throw new AssertionError(file + " is not valid YAML: " + e.getMessage(), e);
        }
        return docs;
    }

    /** The single YAML document of {@code file}. */
    static JsonNode yaml(Path file) {
        List<JsonNode> docs = yamlDocuments(file);
        assertTrue(docs.size() == 1, () -> file + " holds " + docs.size() + " YAML documents, expected one");
        return docs.get(0);
    }

    static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new AssertionError(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    static JsonNode toml(Path file) {
        try {
            return TOML.readTree(file.toFile());
        } catch (IOException e) {
            throw new AssertionError(file + " is not valid TOML: " + e.getMessage(), e);
        }
    }

    /** {@code node.at(pointer)}, failing with the pointer and the file when it is missing. */
    static JsonNode at(JsonNode node, String pointer, Object where) {
        JsonNode n = node.at(pointer);
        assertTrue(!n.isMissingNode() && !n.isNull(), () -> where + ": no " + pointer);
        return n;
    }

    /** The image's default configuration, docker/config/config.yaml, loaded as serve --config loads it. */
    static MirrorConfig imageConfig() throws ConfigException {
        return ConfigLoader.load(docker().resolve("config/config.yaml"));
    }

    /** Each upstream as "name url [aliases] default?": what decides where a request goes. */
    static List<String> routing(MirrorConfig config) {
        return config.upstreams().stream()
                .map(u -> u.name() + " " + u.url() + " " + u.aliases() + (u.isDefault() ? " default" : "")).toList();
    }

    /** A CA in {@code data/pki}, created the way {@code serve} creates it on its first start. */
    static Path generatedCa(Path data) throws IOException {
        CertificateAuthority.loadOrCreate(data.resolve("pki"), KeyAlgorithm.EC_P256, Clock.systemUTC());
        Path ca = data.resolve("pki").resolve(CertificateAuthority.CA_CERT_FILE);
        assertTrue(Files.isRegularFile(ca), ca + " was not created");
        return ca;
    }

    /**
     * The CA in {@code caCert}/{@code caKey} is one the mirror takes as {@code tls.caCertFile} /
     * {@code caKeyFile}, and two replicas (two host names, two data directories) each issue their
     * own server certificate from it, both for {@code hostNames} and both signed by it: one CA for
     * the nodes to trust whichever replica answers.
     */
    static void assertEveryReplicaIssuesFrom(Path caCert, Path caKey, List<String> hostNames, Path tmp)
            throws Exception {
        CertificateAuthority ca = CertificateAuthority.load(caCert, caKey, Clock.systemUTC());
        for (String replica : List.of("ocimirror-7d9f-abcde", "ocimirror-7d9f-fghij")) {
            X509Certificate leaf = ca.loadOrIssueServer(tmp.resolve(replica).resolve("pki/issued"),
                    ServerNames.withDefaults(hostNames, replica)).credentials().leaf();
            leaf.verify(ca.certificate().getPublicKey());
            Set<String> names = new HashSet<>();
            leaf.getSubjectAlternativeNames().forEach(n -> names.add(String.valueOf(n.get(1))));
            assertTrue(names.containsAll(hostNames) && names.contains(replica), replica + "'s certificate: " + names);
        }
    }

    /** What {@code ocimirror ARGS} did, run through the real command line in this JVM. */
    record Run(int exit, String out, String err) {
        Run requireSuccess() {
            assertTrue(exit == 0, () -> "exit " + exit + ":\n" + err + out);
            return this;
        }
    }

    static Run ocimirror(List<String> args) {
        assertNotNull(args);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute(args.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    static Run ocimirror(String... args) {
        return ocimirror(List.of(args));
    }
}
