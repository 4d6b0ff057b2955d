package ocimirror.server.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import ocimirror.config.Durations;
import ocimirror.server.image.ImageName;
import ocimirror.server.image.Platform;
import ocimirror.server.prefetch.MirrorPuller;
import ocimirror.server.prefetch.MirrorTrust;
import ocimirror.server.progress.Progress;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ocimirror prefetch}: pulls images through a running mirror so that it caches them.
 * Exit codes: 0 every image pulled, 1 some could not be, 2 usage error.
 */
@Command(name = "prefetch", sortOptions = false, mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Pulls images through a running mirror, as a node would, so that it caches them ahead of"
                + " demand: each manifest, every platform of an index (or --platform's), every config and layer"
                + " (read to the end, checked against its digest and discarded).",
        footer = {"", "Examples:",
                "  ocimirror prefetch gcr.io/distroless/static:nonroot nginx:1.27 \\",
                "      --mirror https://mirror:5000 --ca-file ca.crt",
                "  ocimirror prefetch registry.corp:5000/team/app:2 --platform linux/amd64 \\",
                "      --mirror http://127.0.0.1:5000"})
public final class PrefetchCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "Images as clients name them (gcr.io/team/app:1,"
            + " nginx, local/app:2).")
    List<String> images = new ArrayList<>();

    @Option(names = "--mirror", paramLabel = "URL", defaultValue = "https://localhost:5000",
            description = "The mirror (default: ${DEFAULT-VALUE}).")
    URI mirror;

    @Option(names = "--ca-file", paramLabel = "FILE", description = "PEM CA to trust for an https mirror (ocimirror ca"
            + " export --format pem); default: the system's trust.")
    Path caFile;

    @Option(names = "--insecure", description = "Do not check the mirror's certificate.")
    boolean insecure;

    @Option(names = "--user", paramLabel = "USER:PASSWORD", description = "Credentials, if the mirror asks clients"
            + " to authenticate.")
    String user;

    @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]", description = "Only this platform of"
            + " multi-platform images (default: all).")
    String platform;

    @Option(names = "--parallel", paramLabel = "N", defaultValue = "4",
            description = "Blob downloads at a time (default: ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--progress-interval", paramLabel = "DURATION", defaultValue = "2s",
            description = "How often a progress line is printed when the output is not a terminal"
                    + " (default: ${DEFAULT-VALUE}).")
    String progressInterval;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<ImageName> names = new ArrayList<>();
        Platform p;
        HttpClient http;
        Duration interval;
        try {
            for (String image : images) {
                names.add(ImageName.parse(image));
            }
            p = platform == null ? null : Platform.parse(platform);
            if (parallel <= 0) {
                throw new IllegalArgumentException("--parallel must be positive");
            }
            if (mirror.getScheme() == null || !mirror.getScheme().matches("https?") || mirror.getHost() == null) {
                throw new IllegalArgumentException("--mirror " + mirror + ": expected http(s)://HOST:PORT");
            }
            if (caFile != null && insecure) {
                throw new IllegalArgumentException("--ca-file and --insecure exclude each other");
            }
            if (user != null && user.indexOf(':') < 0) {
                throw new IllegalArgumentException("--user: expected USER:PASSWORD");
            }
            interval = Durations.parse(progressInterval);
            HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NORMAL);
            SSLContext ssl = insecure ? MirrorTrust.insecure() : caFile != null ? MirrorTrust.caFile(caFile) : null;
            if (ssl != null) {
                b.sslContext(ssl);
            }
            http = b.build();
        } catch (IllegalArgumentException | java.io.IOException | java.security.GeneralSecurityException e) {
            err.println("ocimirror prefetch: " + e.getMessage());
            err.flush();
            return Main.EXIT_CONFIG;
        }
        String auth = user == null ? null
                : "Basic " + Base64.getEncoder().encodeToString(user.getBytes(StandardCharsets.UTF_8));
        MirrorPuller puller = new MirrorPuller(http, mirror, auth, parallel);
        MirrorPuller.Result r;
        try (Progress progress = Progress.forConsole("prefetch", err, interval)) {
            r = puller.pull(names, p, progress);
        }
        for (MirrorPuller.Pulled pulled : r.pulled()) {
            out.println("prefetched " + pulled.image() + " (" + pulled.digest() + ", " + pulled.manifests()
                    + " manifest" + (pulled.manifests() == 1 ? "" : "s") + ", " + pulled.blobs() + " blobs)");
        }
        for (MirrorPuller.Failed f : r.failed()) {
            out.println("FAILED " + f.image() + ": " + f.reason());
            out.flush();
        }
        out.println("prefetch: " + r.pulled().size() + " of " + names.size() + " images, " + r.blobs() + " blobs, "
                + Sizes.of(r.bytes()) + " through " + mirror);
        out.flush();
        return r.failed().isEmpty() ? 0 : 1;
    }
}
