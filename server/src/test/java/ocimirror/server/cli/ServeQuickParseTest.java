package ocimirror.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/** {@link Main.Serve#quick}: the arguments it takes, it reads as picocli does; the rest it leaves to picocli. */
class ServeQuickParseTest {

    static List<List<String>> taken() {
        return List.of(
                List.of("serve"),
                List.of("serve", "--plain-http"),
                List.of("serve", "--config", "/etc/ocimirror/config.yaml"),
                List.of("serve", "--config=/etc/ocimirror/config.yaml", "--data", "/var/lib/x"),
                List.of("serve", "--listen", "127.0.0.1:5000", "--plain-http", "--data=relative/dir"),
                List.of("serve", "--data", "a=b", "--listen=0.0.0.0:1"),
                List.of("serve", "--no-warmup", "--plain-http"));
    }

    static List<List<String>> left() {
        return List.of(
                List.of(),
                List.of("--version"),
                List.of("config", "check"),
                List.of("serve", "--help"),
                List.of("serve", "-h"),
                List.of("serve", "--version"),
                List.of("serve", "--bogus"),
                List.of("serve", "extra"),
                List.of("serve", "--config"),
                List.of("serve", "--config", "--plain-http"),
                List.of("serve", "--config="),
                List.of("serve", "--data", "a", "--data", "b"),
                List.of("serve", "--plain-http", "--plain-http"),
                List.of("serve", "--plain-http=false"),
                List.of("serve", "--no-warmup", "--no-warmup"),
                List.of("serve", "--no-warmup=true"),
                List.of("serve", "--data", "nul\0byte"));
    }

    @ParameterizedTest
    @MethodSource("taken")
    void readsItsOptionsAsPicocliDoes(List<String> args) {
        Main.Serve quick = Main.Serve.quick(args.toArray(String[]::new));
        assertNotNull(quick, args.toString());
        CommandLine.ParseResult parsed = new CommandLine(new Main()).parseArgs(args.toArray(String[]::new));
        Main.Serve picocli = (Main.Serve) parsed.subcommand().commandSpec().userObject();
        assertEquals(picocli.listen, quick.listen, "--listen");
        assertEquals(picocli.data, quick.data, "--data");
        assertEquals(picocli.config, quick.config, "--config");
        assertEquals(picocli.plainHttp, quick.plainHttp, "--plain-http");
        assertEquals(picocli.noWarmup, quick.noWarmup, "--no-warmup");
    }

    @ParameterizedTest
    @MethodSource("left")
    void leavesEverythingElseToPicocli(List<String> args) {
        assertNull(Main.Serve.quick(args.toArray(String[]::new)), args.toString());
    }
}
