package ocimirror.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Drives the real {@code skopeo} against registries on 127.0.0.1. Every run gets
 * its own HOME, XDG directories, auth file, signature policy and an empty registries.conf,
 * so nothing from the user's or the machine's container configuration leaks in.
 */
public final class Skopeo {

    private static final Duration TIMEOUT = Duration.ofMinutes(2);

    private final String program;
    private final Processes processes;
    private final Map<String, String> env;
    private final Path policy;
    private final Path registriesConf;

    public Skopeo(Path workDir) throws IOException {
        this.program = Programs.require("skopeo").toString();
        Path home = Files.createDirectories(workDir.resolve("home"));
        this.processes = new Processes(workDir.resolve("logs"));
        this.policy = Files.writeString(workDir.resolve("policy.json"),
                "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}");
        this.registriesConf = Files.writeString(workDir.resolve("registries.conf"), "");
        Path auth = Files.writeString(workDir.resolve("auth.json"), "{\"auths\":{}}");
        Path tmp = Files.createDirectories(workDir.resolve("tmp"));
        this.env = Map.of(
                "HOME", home.toString(),
                "XDG_CONFIG_HOME", Files.createDirectories(home.resolve(".config")).toString(),
                "XDG_DATA_HOME", Files.createDirectories(home.resolve(".local/share")).toString(),
                "XDG_CACHE_HOME", Files.createDirectories(home.resolve(".cache")).toString(),
                "XDG_RUNTIME_DIR", Files.createDirectories(workDir.resolve("run")).toString(),
                "REGISTRY_AUTH_FILE", auth.toString(),
                "CONTAINERS_REGISTRIES_CONF", registriesConf.toString(),
                "TMPDIR", tmp.toString());
    }

    /** {@code oci:DIR:ref}, the layout source/destination syntax. */
    public static String oci(Path layout, String ref) {
        return "oci:" + layout + ":" + ref;
    }

    /** {@code docker://HOST:PORT/repo:tag}, or {@code @digest} when {@code ref} starts with sha256:. */
    public static String docker(String hostPort, String repo, String ref) {
        return "docker://" + hostPort + "/" + repo + (ref.startsWith("sha256:") ? "@" : ":") + ref;
    }

    /** {@code skopeo copy SRC DST} with TLS verification off on both sides (plain HTTP). */
    public Processes.Result copy(String source, String destination, String... extra) {
        List<String> args = new ArrayList<>(List.of("copy", "--src-tls-verify=false", "--dest-tls-verify=false"));
        args.addAll(List.of(extra));
        args.add(source);
        args.add(destination);
        return run(args).requireSuccess();
    }

    /** {@code skopeo copy --all}: every platform of an index, and the index itself unchanged. */
    public Processes.Result copyAll(String source, String destination) {
        return copy(source, destination, "--all");
    }

    /**
     * {@code skopeo copy OPTIONS SRC DST} with only the given options (e.g. {@code --dest-cert-dir},
     * {@code --dest-creds}); the caller checks the result, so failures can be asserted on.
     */
    public Processes.Result copyWith(List<String> options, String source, String destination) {
        List<String> args = new ArrayList<>(List.of("copy"));
        args.addAll(options);
        args.add(source);
        args.add(destination);
        return run(args);
    }

    /** The manifest bytes exactly as the registry serves them. */
    public byte[] inspectRaw(String image) {
        return run(List.of("inspect", "--tls-verify=false", "--raw", image)).requireSuccess().stdoutBytes();
    }

    /** Runs {@code skopeo ARGS} with the isolation flags; the caller checks the result. */
    public Processes.Result run(List<String> args) {
        return run(registriesConf, args);
    }

    /**
     * Runs {@code skopeo ARGS} with {@code conf} as its registries.conf (containers-registries.conf(5),
     * the file Podman and CRI-O read too), e.g. to pull through a {@code [[registry.mirror]]}.
     */
    public Processes.Result run(Path conf, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(program, "--policy", policy.toString(),
                "--registries-conf", conf.toString()));
        cmd.addAll(args);
        return processes.run(cmd, env, TIMEOUT);
    }
}
