import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import ocimirror.server.registry.BlobUploads;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.registry.UploadSession;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/**
 * Fills a data directory with COUNT small random blobs for the start-up measurement, through the
 * same code a push goes through once its HTTP request is parsed: {@link Storage#open} and the
 * registry's upload sessions (start, append, complete: verified, fsynced and renamed into
 * blobs/, then linked to the repository and recorded in RocksDB). Nothing about the store's
 * layout is written by hand. The blobs are spread over {@value #REPOS} hosted repositories
 * {@code bench/seed<n>}; the server must not be running on DATA_DIR.
 *
 * <p>Run with the shipped jar on the class path (the JDK compiles this file on the fly):
 * {@code java -cp ocimirror.jar bench/lib/SeedStore.java DATA_DIR COUNT SIZE_BYTES}. Prints
 * {@code REPO DIGEST} of the last blob written.
 */
public final class SeedStore {
    private static final int REPOS = 100;
    /** Commits fsync a file and a directory each: several threads keep the disk busy. */
    private static final int THREADS = 8;

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: SeedStore DATA_DIR COUNT SIZE_BYTES");
            System.exit(2);
        }
        Path data = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        Clock clock = Clock.systemUTC();
        AtomicReference<String> last = new AtomicReference<>();
        try (Storage storage = Storage.open(data, clock)) {
            RegistryService registry = new RegistryService(storage.blobs(), storage.metadata(), clock,
                    new RegistryService.Settings(4 << 20, Long.MAX_VALUE, false, Duration.ofHours(1)));
            BlobUploads uploads = registry.uploads();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> work = new java.util.ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int first = t;
                work.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(first);
                    byte[] bytes = new byte[size];
                    for (int i = first; i < count; i += THREADS) {
                        random.nextBytes(bytes);
                        RepoName repo = RepoName.of("bench/seed" + (i % REPOS));
                        UploadSession session = uploads.start(repo);
                        uploads.append(session, ByteBuffer.wrap(bytes));
                        Digest digest = Digest.sha256(bytes);
                        uploads.complete(session, digest);
                        if (i == count - 1) {
                            last.set(repo + " " + digest);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get();
            }
            pool.shutdown();
        }
        System.out.println(last.get());
    }
}
