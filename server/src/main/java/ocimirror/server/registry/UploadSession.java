package ocimirror.server.registry;

import java.util.concurrent.atomic.AtomicBoolean;
import ocimirror.storage.blob.BlobWriter;
import ocimirror.storage.oci.RepoName;

/**
 * One open blob upload: its id (the ingest file's name), repository and writer. A session is
 * used by at most one request at a time ({@link RegistryService#acquireUpload}); the offset is
 * published for status requests from other threads.
 */
public final class UploadSession {
    private final String id;
    private final RepoName repo;
    private final BlobWriter writer;
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile long offset;
    private volatile long lastActivity;
    private volatile boolean finished;

    UploadSession(RepoName repo, BlobWriter writer, long now) {
        this.id = writer.id();
        this.repo = repo;
        this.writer = writer;
        this.lastActivity = now;
    }

    public String id() {
        return id;
    }

    public RepoName repo() {
        return repo;
    }

    /** Bytes received so far: the next chunk must start here. */
    public long offset() {
        return offset;
    }

    /** The {@code Location} of this session, relative to the server root. */
    public String location() {
        return "/v2/" + repo + "/blobs/uploads/" + id;
    }

    BlobWriter writer() {
        return writer;
    }

    boolean tryAcquire() {
        return busy.compareAndSet(false, true);
    }

    void release(long now) {
        lastActivity = now;
        busy.set(false);
    }

    boolean busy() {
        return busy.get();
    }

    long lastActivity() {
        return lastActivity;
    }

    void wrote(long now) {
        offset = writer.size();
        lastActivity = now;
    }

    boolean finished() {
        return finished;
    }

    void finish() {
        finished = true;
    }

    @Override
    public String toString() {
        return "UploadSession[" + id + ", " + repo + ", " + offset + " bytes]";
    }
}
