package ocimirror.server.reload;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads something built from a few small files (a certificate and its key, an htpasswd file)
 * when their content changes, without a restart.
 *
 * <p>Each {@link #check} reads every file once and fingerprints the bytes (SHA-256 over all of
 * them), then builds from exactly those bytes, so a file replaced between two reads cannot mix
 * old and new. Content, not modification times, decides: a Kubernetes secret volume swaps a
 * symlink, {@code cp -p} keeps times, and the files are small. When the new content does not
 * load (a key written before its certificate, a typo in htpasswd), the old value stays, the
 * problem is logged once per distinct content, and the next check tries again.
 *
 * <p>Thread-safe: checks are serialized; {@code onLoaded} runs on the checking thread.
 *
 * @param <T> what the files are made into
 */
public final class FileReloader<T> {
    private static final Logger log = LoggerFactory.getLogger(FileReloader.class);
    /** Larger files are refused: nothing reloaded here is legitimately this big. */
    public static final int MAX_FILE_BYTES = 8 * 1024 * 1024;

    /** Builds the value from one consistent read of the files. */
    @FunctionalInterface
    public interface Loader<T> {
        T load(Snapshot files) throws Exception;
    }

    /**
     * The bytes of every watched file, read once.
     *
     * @param contents    by path, in the order given
     * @param fingerprint hex SHA-256 over every path and content
     */
    public record Snapshot(Map<Path, byte[]> contents, String fingerprint) {
        /** The bytes of {@code file}, which must be one of the watched files. */
        public byte[] bytes(Path file) {
            byte[] b = contents.get(file);
            if (b == null) {
                throw new IllegalArgumentException(file + " is not watched");
            }
            return b;
        }

        /** The content as text (PEM and htpasswd are ASCII; ISO-8859-1 keeps any byte as one char). */
        public String text(Path file) {
            return new String(bytes(file), StandardCharsets.ISO_8859_1);
        }
    }

    private final String what;
    private final List<Path> files;
    private final Loader<T> loader;
    private final Consumer<T> onLoaded;
    private String accepted;
    private String lastProblem;

    /**
     * @param what     names the value in log lines ("TLS certificate", "htpasswd")
     * @param files    the files, read in this order
     * @param loader   builds the value; any exception means "not loadable, keep the old value"
     * @param onLoaded receives each new value
     */
    public FileReloader(String what, List<Path> files, Loader<T> loader, Consumer<T> onLoaded) {
        this.what = requireNonNull(what, "what");
        this.files = List.copyOf(files);
        this.loader = requireNonNull(loader, "loader");
        this.onLoaded = requireNonNull(onLoaded, "onLoaded");
        if (this.files.isEmpty()) {
            throw new IllegalArgumentException("no files to watch");
        }
    }

    /** Reads the files now. */
    public Snapshot read() throws IOException {
        Map<Path, byte[]> contents = new LinkedHashMap<>();
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (Path f : files) {
            byte[] b;
            try {
                if (Files.size(f) > MAX_FILE_BYTES) {
                    throw new IOException(f + ": larger than " + MAX_FILE_BYTES + " bytes");
                }
                b = Files.readAllBytes(f);
            } catch (NoSuchFileException e) {
                throw new IOException(f + ": no such file", e);
            }
            contents.put(f, b);
            sha.update(f.toString().getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(Long.toString(b.length).getBytes(StandardCharsets.US_ASCII));
            sha.update((byte) 0);
            sha.update(b);
        }
        return new Snapshot(contents, HexFormat.of().formatHex(sha.digest()));
    }

    /**
     * Marks {@code snapshot} as the content already in use (the value built at start-up), so
     * the first check does not build it again.
     */
    public synchronized void accept(Snapshot snapshot) {
        accepted = snapshot.fingerprint();
        lastProblem = null;
    }

    /**
     * Loads the files if their content changed since the last value was accepted.
     *
     * @return true when a new value was loaded and handed to {@code onLoaded}
     */
    public synchronized boolean check() {
        Snapshot s;
        try {
            s = read();
        } catch (IOException | RuntimeException e) {
            problem("cannot read: " + e.getMessage());
            return false;
        }
        if (s.fingerprint().equals(accepted)) {
            lastProblem = null;
            return false;
        }
        T value;
        try {
            value = loader.load(s);
        } catch (Exception e) {
            problem("changed but does not load (keeping the previous one, retrying): " + e.getMessage());
            return false;
        }
        onLoaded.accept(value);
        accepted = s.fingerprint();
        lastProblem = null;
        return true;
    }

    /**
     * Runs {@code task} (usually one that calls {@link #check}) every {@code period}; exceptions
     * are logged, never allowed to cancel the schedule.
     */
    public static ScheduledFuture<?> every(ScheduledExecutorService scheduler, Duration period, String what, Runnable task) {
        long ms = Math.max(1, period.toMillis());
        return scheduler.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (RuntimeException | Error e) {
                log.warn("{}: reload check failed", what, e);
            }
        }, ms, ms, TimeUnit.MILLISECONDS);
    }

    private void problem(String message) {
        if (!Objects.equals(message, lastProblem)) {
            log.warn("{} {}: {}", what, files, message);
            lastProblem = message;
        }
    }
}
