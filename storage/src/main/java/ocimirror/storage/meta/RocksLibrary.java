package ocimirror.storage.meta;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads RocksDB's JNI library. {@link RocksDB#loadLibrary()} copies it (17 MiB) out of the jar into
 * a new temporary file at every start: a tenth of a second of the start-up, and a file left in
 * {@code /tmp} whenever the process is killed. With the system property {@value #DIR_PROPERTY}
 * (set by {@code bin/ocimirror}) it is copied once into that directory, in a subdirectory named
 * after the jar entry's CRC and size (a new RocksDB gets its own), and loaded from there at later
 * starts. The copy is written under a temporary name and renamed, so a concurrent start or a
 * crash never leaves a half-written library to load. Without the property, or when the directory
 * cannot be used, RocksDB's own loading.
 */
final class RocksLibrary {
    static final String DIR_PROPERTY = "ocimirror.nativeDir";
    private static final Logger log = LoggerFactory.getLogger(RocksLibrary.class);

    private RocksLibrary() {
    }

    static void load() {
        String dir = System.getProperty(DIR_PROPERTY);
        if (dir != null && !dir.isBlank()) {
            try {
                RocksDB.loadLibrary(List.of(cached(Path.of(dir)).toString()));
                return;
            } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
                log.debug("RocksDB's library not loaded from {}: {}", dir, e.toString());
            }
        }
        RocksDB.loadLibrary();
    }

    /** The directory holding the library under the name {@link RocksDB#loadLibrary(List)} looks for. */
    static Path cached(Path dir) throws IOException {
        String resource = Environment.getJniLibraryFileName("rocksdb");
        URL url = RocksDB.class.getClassLoader().getResource(resource);
        if (url == null) {
            throw new IOException("no " + resource + " next to " + RocksDB.class.getName());
        }
        if (!(url.openConnection() instanceof JarURLConnection connection)) {
            throw new IOException(resource + " is not in a jar: " + url);
        }
        Path jarPath;
        try {
            jarPath = Path.of(connection.getJarFileURL().toURI());
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new IOException("the jar of " + url + ": " + e.getMessage(), e);
        }
        try (JarFile jar = new JarFile(jarPath.toFile())) {
            JarEntry entry = jar.getJarEntry(resource);
            if (entry == null) {
                throw new IOException("no " + resource + " in " + jarPath);
            }
            Path sub = dir.resolve("rocksdb-" + Long.toHexString(entry.getCrc()) + "-" + entry.getSize());
            // The name loadLibrary(List) loads from each directory, whatever this RocksDB version computes.
            Path lib = sub.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
            if (Files.isRegularFile(lib) && Files.size(lib) == entry.getSize()) {
                return sub;
            }
            Files.createDirectories(sub);
            Path tmp = Files.createTempFile(sub, ".copy-", ".tmp");
            try {
                try (InputStream in = jar.getInputStream(entry)) {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                }
                Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return sub;
        }
    }
}
