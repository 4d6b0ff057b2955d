package ocimirror.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import ocimirror.config.ConfigException;
import ocimirror.config.ConfigLoader;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.config.pki.CertificateAuthority;
import ocimirror.config.pki.Pem;
import ocimirror.config.pki.TrustExport;
import ocimirror.config.pki.TrustExport.Format;
import ocimirror.server.tls.ServerTls;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ocimirror ca export}: the mirror's CA in the shape each client wants ({@link TrustExport}).
 * Single-file formats print to standard output unless {@code -o DIR} is given; the containerd and
 * Docker layouts are trees and need {@code -o}. Files are written atomically, mode 0644 (0600 for
 * the pull secret, which holds a password), directories 0755; a file that exists with other
 * content is left alone unless {@code --force}, and nothing is written then.
 *
 * <p>Exit codes: 0 done, 1 the CA is missing or unreadable or a file is in the way, 2 usage.
 */
@Command(name = "export", sortOptions = false,
        description = "Writes the CA certificate clients must trust: as PEM, as base64 (TKG additionalTrustedCAs),"
                + " as a TkgServiceConfiguration, as containerd's certs.d/<host>/hosts.toml + ca.crt, as Docker's"
                + " certs.d/<mirror>/ca.crt, or a Kubernetes pull secret for the mirror's own users.",
        footer = {"", "Examples:",
                "  ocimirror ca export --format pem --data /var/lib/ocimirror > mirror-ca.crt",
                "  ocimirror ca export --format containerd --mirror mirror.example.com:5000 \\",
                "      --host docker.io -o /etc/containerd",
                "  ocimirror ca export --format k8s-secret --mirror mirror.example.com:5000 \\",
                "      --user node --password-file node.pw -o ."})
public final class CaExportCommand implements Callable<Integer> {
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-r--r--");
    private static final Set<PosixFilePermission> SECRET = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("rwxr-xr-x");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--format", required = true, paramLabel = "FORMAT",
            description = "pem, base64, tkg, containerd, docker or k8s-secret.")
    String format;

    @Option(names = "--data", paramLabel = "DIR", description = "Data directory whose pki/ca.crt is exported (default: ./data).")
    Path data;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Export the CA this configuration file's tls: section serves (its data directory's, or caCertFile).")
    Path config;

    @Option(names = "--ca-file", paramLabel = "FILE",
            description = "Export this CA certificate instead (TLS files mode with your own CA).")
    Path caFile;

    @Option(names = "--mirror", paramLabel = "HOST:PORT",
            description = "How clients address the mirror (tkg, containerd, docker, k8s-secret).")
    String mirror;

    @Option(names = "--host", paramLabel = "REGISTRY",
            description = "containerd: the registry pulled through the mirror (docker.io, registry.example.com:5000, _default).")
    String host;

    @Option(names = "--ca-path", paramLabel = "PATH",
            description = "containerd: the ca value in hosts.toml (default: ca.crt next to it).")
    String caPath;

    @Option(names = "--user", paramLabel = "USER", description = "k8s-secret: the mirror user the secret logs in as.")
    String user;

    @Option(names = "--password-file", paramLabel = "FILE", description = "k8s-secret: file holding that user's password.")
    Path passwordFile;

    @Option(names = "--secret-name", paramLabel = "NAME", description = "k8s-secret: the Secret's name (default: "
            + TrustExport.DEFAULT_SECRET_NAME + ").")
    String secretName;

    @Option(names = "--namespace", paramLabel = "NS", description = "k8s-secret: the Secret's namespace (default: none).")
    String namespace;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "Write the files under DIR.")
    Path output;

    @Option(names = "--force", description = "Replace files that exist with other content.")
    boolean force;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        Format f;
        try {
            f = Format.fromName(format);
        } catch (IllegalArgumentException e) {
            return fail(err, EXIT_USAGE, "--format: " + e.getMessage());
        }
        if ((data != null ? 1 : 0) + (config != null ? 1 : 0) + (caFile != null ? 1 : 0) > 1) {
            return fail(err, EXIT_USAGE, "give at most one of --data, --config and --ca-file");
        }
        if (f != Format.PEM && f != Format.BASE64 && mirror == null) {
            return fail(err, EXIT_USAGE, f.cliName() + " needs --mirror HOST:PORT, the address nodes use for the mirror");
        }
        if (f.isTree() && output == null) {
            return fail(err, EXIT_USAGE, f.cliName() + " writes a directory tree: give -o DIR");
        }
        Path caCert;
        try {
            caCert = caCertificateFile();
        } catch (ConfigException e) {
            return fail(err, EXIT_USAGE, e.getMessage());
        }
        if (!Files.exists(caCert)) {
            return fail(err, EXIT_FAILED, caFile != null ? caCert + ": no such file"
                    : "no CA at " + caCert + ": ocimirror creates it on its first start with TLS mode generate"
                    + " (ocimirror serve --data " + caCert.getParent().getParent() + "); with your own CA, use --ca-file");
        }
        X509Certificate ca;
        TrustExport.Options options;
        Map<String, byte[]> tree;
        try {
            ca = Pem.readCertificate(caCert);
            options = options(f);
            tree = TrustExport.export(f, ca, mirror, options);
        } catch (IOException e) {
            return fail(err, EXIT_FAILED, e.getMessage());
        } catch (IllegalArgumentException e) {
            return fail(err, EXIT_USAGE, e.getMessage());
        }
        if (output == null) {
            PrintWriter out = spec.commandLine().getOut();
            out.print(new String(tree.values().iterator().next(), StandardCharsets.UTF_8));
            out.flush();
            return 0;
        }
        try {
            return write(f, tree, CertificateAuthority.fingerprint(ca));
        } catch (IOException e) {
            return fail(err, EXIT_FAILED, "cannot write under " + output + ": " + e.getMessage());
        }
    }

    /**
     * The CA certificate to export: {@code --ca-file}; else, with {@code --config}, the one its
     * {@code tls:} section makes clients trust ({@code <data>/pki/ca.crt} in generate mode, the
     * given {@code caCertFile} in files mode); else {@code <data>/pki/ca.crt} of {@code --data}.
     */
    private Path caCertificateFile() throws ConfigException {
        if (caFile != null) {
            return caFile;
        }
        if (config == null) {
            return (data != null ? data : Path.of("data")).resolve(ServerTls.PKI_DIR).resolve(CertificateAuthority.CA_CERT_FILE);
        }
        MirrorConfig c = ConfigLoader.load(config);
        TlsConfig tls = c.tls();
        return switch (tls.mode()) {
            case GENERATE -> c.dataDir().resolve(ServerTls.PKI_DIR).resolve(CertificateAuthority.CA_CERT_FILE);
            case FILES -> {
                if (tls.caCertFile() == null) {
                    throw new ConfigException(config + ": TLS serves the given certificate " + tls.certFile()
                            + ", whose issuer ocimirror does not know: export that CA with --ca-file FILE");
                }
                yield tls.caCertFile();
            }
            case OFF -> throw new ConfigException(config + ": TLS is off (tls.mode: off): there is no CA to trust");
        };
    }

    private TrustExport.Options options(Format f) throws IOException {
        TrustExport.Options o = TrustExport.Options.none().withUpstreamHost(host).withCaPath(caPath)
                .withSecret(secretName, namespace);
        if (f == Format.K8S_SECRET) {
            if (user == null || passwordFile == null) {
                throw new IllegalArgumentException("k8s-secret needs --user and --password-file");
            }
            String password = Files.readString(passwordFile, StandardCharsets.UTF_8);
            // One trailing newline is what `echo pw > file` leaves; it is not part of the password.
            password = password.endsWith("\r\n") ? password.substring(0, password.length() - 2)
                    : password.endsWith("\n") ? password.substring(0, password.length() - 1) : password;
            if (password.isEmpty()) {
                throw new IllegalArgumentException(passwordFile + " is empty");
            }
            o = o.withCredentials(user, password);
        }
        return o;
    }

    private int write(Format f, Map<String, byte[]> tree, String fingerprint) throws IOException {
        Path root = output.toAbsolutePath().normalize();
        List<String> conflicts = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : tree.entrySet()) {
            Path target = root.resolve(e.getKey()).normalize();
            if (!target.startsWith(root)) {
                throw new IOException(e.getKey() + " would leave " + root); // TrustExport never does this
            }
            if (Files.exists(target) && !Arrays.equals(Files.readAllBytes(target), e.getValue()) && !force) {
                conflicts.add(target.toString());
            }
        }
        if (!conflicts.isEmpty()) {
            return fail(spec.commandLine().getErr(), EXIT_FAILED, "not replacing files with other content (use --force): "
                    + String.join(", ", conflicts));
        }
        PrintWriter out = spec.commandLine().getOut();
        for (Map.Entry<String, byte[]> e : tree.entrySet()) {
            Path target = root.resolve(e.getKey()).normalize();
            if (Files.exists(target) && Arrays.equals(Files.readAllBytes(target), e.getValue())) {
                out.println("unchanged " + target);
                continue;
            }
            createDirectories(root, target.getParent());
            writeAtomically(target, e.getValue(), f == Format.K8S_SECRET ? SECRET : FILE);
            out.println("wrote " + target);
        }
        out.println("CA SHA-256 " + fingerprint);
        String hint = hint(f);
        if (hint != null) {
            out.println(hint);
        }
        out.flush();
        return 0;
    }

    private static String hint(Format f) {
        return switch (f) {
            case CONTAINERD -> "Copy certs.d/ to /etc/containerd/certs.d/ on every node (containerd's registry config_path);"
                    + " containerd reads it on the next pull, no restart.";
            case DOCKER -> "Copy certs.d/ to /etc/docker/certs.d/ (or /etc/containers/certs.d/ for Podman and skopeo).";
            case TKG -> "Merge with the existing additionalTrustedCAs, then kubectl apply -f on the Supervisor.";
            case K8S_SECRET -> "kubectl apply -f it, then name it in imagePullSecrets. It holds a password: keep it private.";
            default -> null;
        };
    }

    private static void createDirectories(Path root, Path dir) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir; p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.add(0, p);
        }
        for (Path p : missing) {
            Files.createDirectory(p);
            if (posix(p)) {
                Files.setPosixFilePermissions(p, DIR); // explicit: the umask must not hide ca.crt from containerd
            }
        }
    }

    private static void writeAtomically(Path target, byte[] content, Set<PosixFilePermission> mode) throws IOException {
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, content);
            if (posix(tmp)) {
                Files.setPosixFilePermissions(tmp, mode);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean posix(Path p) {
        return p.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    private static int fail(PrintWriter err, int code, String message) {
        err.println("ocimirror ca export: " + message);
        err.flush();
        return code;
    }
}
