package ocimirror.e2e;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import ocimirror.config.MirrorConfig;
import ocimirror.config.TlsConfig;
import ocimirror.server.MirrorServer;

/**
 * ocimirror itself, in this JVM, as the registry under test: the defaults over plain HTTP (as
 * the distribution registry it is compared with runs), a free port of 127.0.0.1 and a fresh
 * data directory.
 */
final class OcimirrorRegistry implements TargetRegistry {

    private final MirrorServer server;
    private final String hostPort;

    private OcimirrorRegistry(MirrorServer server) {
        this.server = server;
        InetSocketAddress address = server.localAddress();
        this.hostPort = address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    static OcimirrorRegistry start(Path dir) throws Exception {
        MirrorConfig config = MirrorConfig.defaults()
                .withTls(TlsConfig.off())
                .withListen(new MirrorConfig.Listen("127.0.0.1", 0))
                .withDataDir(Files.createDirectories(dir.resolve("data")));
        return new OcimirrorRegistry(MirrorServer.start(config));
    }

    @Override
    public String hostPort() {
        return hostPort;
    }

    @Override
    public String kind() {
        return "ocimirror";
    }

    @Override
    public void close() {
        server.close();
    }
}
