package ocimirror.testing;

import java.nio.file.Path;
import java.util.Objects;
import ocimirror.config.MirrorConfig;
import ocimirror.server.MirrorServer;

/**
 * The parts of an end-to-end test that outlive one test: the upstream(s), a mirror started in
 * this JVM, and containerd beside it when this machine can run it (installed, and root).
 * {@link #close} stops them in reverse order: containerd, the mirror, the upstreams.
 *
 * <p>Created over the upstreams first, so that they are closed even when what the test does
 * before starting the mirror (pushing images) fails.
 */
public final class MirrorStack implements AutoCloseable {
    /** Works without overlayfs (the tests run inside containers too) and still unpacks every layer. */
    public static final String SNAPSHOTTER = "native";

    private final AutoCloseable upstreams;
    private MirrorConfig config;
    private MirrorServer mirror;
    private Containerd containerd;

    private MirrorStack(AutoCloseable upstreams) {
        this.upstreams = Objects.requireNonNull(upstreams);
    }

    /** Owns {@code upstreams} from now on: {@link #close} closes them. */
    public static MirrorStack over(AutoCloseable upstreams) {
        return new MirrorStack(upstreams);
    }

    /**
     * Starts the mirror with {@code config}, then containerd under {@code dir/containerd} when
     * the programs are there and this runs as root (else {@link #containerd} is null).
     */
    public MirrorStack start(MirrorConfig config, Path dir) throws Exception {
        if (mirror != null) {
            throw new IllegalStateException("already started");
        }
        this.config = config;
        mirror = MirrorServer.start(config);
        if (Programs.present("containerd", "ctr") && Programs.isRoot()) {
            containerd = Containerd.start(dir.resolve("containerd"), SNAPSHOTTER);
        }
        return this;
    }

    /** Closes the mirror and starts it again with the same configuration (so the same data directory). */
    public MirrorServer restartMirror() throws Exception {
        mirror.close();
        mirror = null;
        mirror = MirrorServer.start(config);
        return mirror;
    }

    public MirrorServer mirror() {
        return mirror;
    }

    /** {@code 127.0.0.1:PORT} of the mirror. */
    public String hostPort() {
        return "127.0.0.1:" + mirror.localAddress().getPort();
    }

    /** Null when containerd cannot run here; tests needing it skip first. */
    public Containerd containerd() {
        return containerd;
    }

    @Override
    public void close() throws Exception {
        try {
            if (containerd != null) {
                containerd.close();
            }
            if (mirror != null) {
                mirror.close();
            }
        } finally {
            upstreams.close();
        }
    }
}
