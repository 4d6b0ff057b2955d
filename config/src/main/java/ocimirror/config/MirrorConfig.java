package ocimirror.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The whole configuration, immutable. {@link #defaults()} is what {@code serve} runs with
 * when no file is given.
 *
 * @param listen  host and port to bind
 * @param dataDir root of blobs/, ingest/ and meta/
 * @param storage what clients may delete
 * @param limits  input limits
 */
public record MirrorConfig(Listen listen, Path dataDir, Storage storage, Limits limits) {

    public MirrorConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(dataDir, "dataDir");
        storage = storage == null ? Storage.defaults() : storage;
        limits = limits == null ? Limits.defaults() : limits;
    }

    public static MirrorConfig defaults() {
        return new MirrorConfig(new Listen("0.0.0.0", 5000), Path.of("data"), Storage.defaults(), Limits.defaults());
    }

    public MirrorConfig withListen(Listen l) {
        return new MirrorConfig(l, dataDir, storage, limits);
    }

    public MirrorConfig withDataDir(Path d) {
        return new MirrorConfig(listen, d, storage, limits);
    }

    /** Where to bind; port 0 picks a free port (tests). */
    public record Listen(String host, int port) {
        public Listen {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port out of range: " + port);
            }
        }

        /** Parses {@code HOST:PORT}, {@code :PORT} or {@code [v6]:PORT}. */
        public static Listen parse(String s) {
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("expected HOST:PORT, got '" + s + "'");
            }
            String host = s.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(s.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("expected HOST:PORT, got '" + s + "'");
            }
            return new Listen(host.isEmpty() ? "0.0.0.0" : host, port);
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /** @param deleteEnabled whether {@code DELETE} of manifests, tags and blobs is allowed */
    public record Storage(boolean deleteEnabled) {
        public static Storage defaults() {
            return new Storage(true);
        }
    }

    /**
     * @param maxManifestBytes largest manifest accepted on push (the spec suggests 4 MiB)
     * @param maxHeaderBytes   largest request line plus headers
     * @param maxUploadBytes   largest single blob upload
     * @param idleTimeoutSeconds connections idle this long are closed
     */
    public record Limits(int maxManifestBytes, int maxHeaderBytes, long maxUploadBytes, int idleTimeoutSeconds) {
        public static Limits defaults() {
            return new Limits(4 * 1024 * 1024, 16 * 1024, 64L * 1024 * 1024 * 1024, 300);
        }
    }
}
