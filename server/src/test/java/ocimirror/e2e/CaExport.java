package ocimirror.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import ocimirror.server.cli.Main;
import picocli.CommandLine;

/**
 * {@code ocimirror ca export ...} run through the real command line in this JVM: the files the
 * end-to-end tests hand to containerd and skopeo are the ones an operator would get.
 */
final class CaExport {

    /** @param exit the exit status; @param out and @param err what it printed */
    record Result(int exit, String out, String err) {
    }

    private CaExport() {
    }

    /** {@code ocimirror ca export ARGS}. */
    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("ca", "export"));
        all.addAll(List.of(args));
        int exit = new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute(all.toArray(String[]::new));
        return new Result(exit, out.toString(), err.toString());
    }

    /** {@code ARGS -o DIR}, which must succeed; returns {@code DIR/certs.d}. */
    static Path tree(Path dir, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("-o", dir.toString()));
        Result r = run(all.toArray(String[]::new));
        assertEquals(0, r.exit(), () -> "ca export " + all + ":\n" + r.err() + r.out());
        Path certsD = dir.resolve("certs.d");
        assertTrue(Files.isDirectory(certsD), () -> "no certs.d under " + dir + ":\n" + r.out());
        return certsD;
    }

    /**
     * {@code ca export --format containerd --host HOST --mirror MIRROR SOURCE... -o DIR}: the
     * directory to give {@code ctr --hosts-dir} (containerd's {@code config_path}).
     */
    static Path containerd(Path dir, String host, String mirror, String... source) {
        List<String> args = new ArrayList<>(List.of("--format", "containerd", "--host", host, "--mirror", mirror));
        args.addAll(List.of(source));
        return tree(dir, args.toArray(String[]::new));
    }

    /** {@code ca export --format docker --mirror MIRROR SOURCE... -o DIR}: returns {@code certs.d/MIRROR}, a cert dir. */
    static Path docker(Path dir, String mirror, String... source) {
        List<String> args = new ArrayList<>(List.of("--format", "docker", "--mirror", mirror));
        args.addAll(List.of(source));
        return tree(dir, args.toArray(String[]::new)).resolve(mirror);
    }
}
