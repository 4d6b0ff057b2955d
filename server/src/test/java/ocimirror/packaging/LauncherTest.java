package ocimirror.packaging;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import ocimirror.server.cli.Main;
import ocimirror.testing.Processes;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/ocimirror}: its cache (the class-data archive built before the first {@code serve}
 * and used from then on, RocksDB's library), and the same JVM flags with and without it. Runs
 * the script with a jar made here whose manifest names the test class path (jars only: class
 * data sharing archives nothing from directories), since the shaded jar does not exist yet when
 * tests run.
 */
class LauncherTest {
    private static final Pattern LISTENING = Pattern.compile("registry listening on /127\\.0\\.0\\.1:(\\d+)");
    private static final Duration START = Duration.ofSeconds(120);
    private static final String TRIM = "-XX:TrimNativeHeapInterval=2000";

    @TempDir
    static Path shared;
    static Path jar;

    @TempDir
    Path dir;

    @BeforeAll
    static void launcherJar() throws IOException {
        List<String> classPath = new ArrayList<>();
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry).toAbsolutePath();
            if (Files.isDirectory(p)) {
                p = jarOf(p, shared.resolve("dir" + n++ + ".jar"));
            }
            if (Files.isRegularFile(p)) {
                classPath.add(p.toUri().toString());
            }
        }
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, Main.class.getName());
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, String.join(" ", classPath));
        jar = shared.resolve("ocimirror.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, manifest)) {
            // the manifest is all it holds
        }
    }

    private static Path jarOf(Path dir, Path jarFile) throws IOException {
        try (OutputStream out = Files.newOutputStream(jarFile); JarOutputStream j = new JarOutputStream(out);
             Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                j.putNextEntry(new JarEntry(dir.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, j);
                j.closeEntry();
            }
        }
        return jarFile;
    }

    @Test
    void firstServeBuildsTheArchiveAndLaterStartsUseIt() throws Exception {
        Path cache = dir.resolve("cache");
        // what a training run killed before its archive was renamed leaves behind
        Path stale = Files.createDirectories(cache).resolve(".cds-12345.jsa");
        Files.write(stale, new byte[1024]);
        try (Launched first = launch(cache, "serve", "--no-warmup", "--plain-http", "--listen", "127.0.0.1:0", "--data",
                dir.resolve("data").toString())) {
            assertTrue(first.output().contains("building the class-data archive"), first.output());
            assertEquals(200, first.get("/v2/"));
            List<Path> archives = list(cache, "cds-", ".jsa");
            assertEquals(1, archives.size(), "one archive: " + list(cache, "", ""));
            assertFalse(Files.exists(stale), "a killed training run's temporary archive is removed");
            assertTrue(first.commandLine().contains("-XX:SharedArchiveFile=" + archives.get(0)), first.commandLine());
            assertTrue(first.commandLine().contains("-Docimirror.nativeDir=" + cache.resolve("native")));
            assertEquals(javaAccepts(TRIM), first.commandLine().contains(" " + TRIM + " "), first.commandLine());
            Path rocks = list(cache.resolve("native"), "rocksdb-", "").get(0);
            assertFalse(list(rocks, "librocksdbjni", ".so").isEmpty(), "RocksDB's library is in the cache");
        }
        try (Launched second = launch(cache, "serve", "--no-warmup", "--plain-http", "--listen", "127.0.0.1:0", "--data",
                dir.resolve("data").toString())) {
            assertFalse(second.output().contains("building the class-data archive"), second.output());
            assertTrue(second.commandLine().contains("-XX:SharedArchiveFile="), second.commandLine());
            assertEquals(200, second.get("/v2/"));
        }
    }

    @Test
    void aJavaWithoutNativeHeapTrimmingStartsWithoutTheFlag() throws Exception {
        // Java 17 before 17.0.9 refuses to start with -XX:TrimNativeHeapInterval: a java that does
        // the same, and is otherwise this one.
        Path fakeJava = dir.resolve("java");
        Files.writeString(fakeJava, "#!/bin/sh\n"
                + "for a in \"$@\"; do case $a in -XX:TrimNativeHeapInterval=*)\n"
                + "  echo \"Unrecognized VM option '${a#-XX:}'\" >&2; exit 1;; esac; done\n"
                + "exec '" + realJava() + "' \"$@\"\n");
        assertTrue(fakeJava.toFile().setExecutable(true));
        Path cache = dir.resolve("cache");
        ProcessBuilder pb = command(cache, "serve", "--no-warmup", "--plain-http", "--listen", "127.0.0.1:0", "--data",
                dir.resolve("data").toString());
        pb.environment().put("JAVA", fakeJava.toString());
        try (Launched started = launch(pb)) {
            assertEquals(200, started.get("/v2/"));
            assertFalse(started.commandLine().contains("TrimNativeHeapInterval"), started.commandLine());
            assertTrue(started.commandLine().contains("-XX:SharedArchiveFile="), "the rest of the cache is used");
        }
    }

    @Test
    void aServerDoesNotStartFlightRecorder() throws Exception {
        Path classes = dir.resolve("classes.log");
        ProcessBuilder pb = command(Path.of("off"), "serve", "--no-warmup", "--plain-http", "--listen", "127.0.0.1:0", "--data",
                dir.resolve("data").toString());
        pb.environment().put("JAVA_OPTS", "-Xlog:class+load=info:file=" + classes);
        try (Launched started = launch(pb)) {
            assertEquals(200, started.get("/v2/"));
            String loaded = Files.readString(classes);
            assertTrue(loaded.contains(" io.netty.buffer.AdaptivePoolingAllocator "), "Netty has allocated buffers");
            assertFalse(loaded.contains(" io.netty.buffer.AllocateBufferEvent "), "no Netty allocator events");
            assertFalse(loaded.contains(" jdk.jfr.internal.MetadataRepository "), "Flight Recorder not started");
        }
    }

    @Test
    void aQuickCommandBuildsNoArchive() throws Exception {
        Path cache = dir.resolve("cache");
        Process p = command(cache, "--version").start();
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        assertTrue(new String(p.getInputStream().readAllBytes(), UTF_8).startsWith("ocimirror "));
        assertTrue(list(cache, "cds-", "").isEmpty(), "no archive before a version check");
    }

    @Test
    void withoutACacheTheSameFlagsAndNoArchive() throws Exception {
        try (Launched off = launch(Path.of("off"), "serve", "--no-warmup", "--plain-http", "--listen", "127.0.0.1:0", "--data",
                dir.resolve("data").toString())) {
            assertEquals(200, off.get("/v2/"));
            String cmd = off.commandLine();
            assertFalse(cmd.contains("SharedArchiveFile") || cmd.contains("nativeDir"), cmd);
            for (String flag : List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=128m",
                    "-XX:+ExitOnOutOfMemoryError", "-XX:CompileThresholdScaling=2")) {
                assertTrue(cmd.contains(" " + flag + " "), flag + " in " + cmd);
            }
        }
    }

    private static ProcessBuilder command(Path cache, String... args) {
        List<String> cmd = new ArrayList<>(List.of("sh", DockerFolder.root().resolve("bin/ocimirror").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        env.put("OCIMIRROR_JAR", jar.toString());
        env.put("OCIMIRROR_CACHE", cache.toString());
        env.put("JAVA", realJava());
        env.remove("JAVA_OPTS");
        return pb;
    }

    private static String realJava() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static boolean javaAccepts(String flag) throws Exception {
        Process p = new ProcessBuilder(realJava(), flag, "-version").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        return p.exitValue() == 0;
    }

    private Launched launch(Path cache, String... args) throws Exception {
        return launch(command(cache, args));
    }

    private Launched launch(ProcessBuilder command) throws Exception {
        Path log = Files.createTempFile(dir, "launcher", ".log");
        Process p = command.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + START.toNanos();
        while (System.nanoTime() < deadline && p.isAlive()) {
            Matcher m = LISTENING.matcher(Processes.read(log));
            if (m.find()) {
                return new Launched(p, log, Integer.parseInt(m.group(1)));
            }
            Thread.sleep(100);
        }
        Processes.stop(p);
        throw new AssertionError("bin/ocimirror did not serve:\n" + Processes.tail(Processes.read(log)));
    }

    private static List<Path> list(Path dir, String prefix, String suffix) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)
                    && p.getFileName().toString().endsWith(suffix)).sorted().toList();
        }
    }

    /** The launched server: the script execs java, so the process is the JVM itself. */
    private record Launched(Process process, Path log, int port) implements AutoCloseable {
        String output() {
            return Processes.read(log);
        }

        String commandLine() throws IOException {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(process.pid()), "cmdline")), UTF_8)
                    .replace('\0', ' ');
        }

        int get(String path) throws Exception {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        }

        @Override
        public void close() {
            Processes.stop(process);
        }
    }
}
