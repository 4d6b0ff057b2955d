package ocimirror.server.registry;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.blob.BlobStore;
import ocimirror.storage.meta.BlobRecord;
import ocimirror.storage.meta.MetadataStore;
import ocimirror.storage.meta.UploadRecord;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blob upload sessions: start, append chunks in order, commit against the client's digest,
 * cancel, and expire idle ones. Sessions live in memory (with an {@link UploadRecord} in the
 * metadata store for bookkeeping); a restart forgets them, as the ingest area is wiped then.
 *
 * <p>Thread-safe. Methods marked "storage executor" write files or RocksDB and must not run on
 * an event loop; {@link #status} is a map lookup. A session serves one request at a time:
 * {@link #acquire} refuses a second one with {@code BLOB_UPLOAD_INVALID}.
 */
public final class BlobUploads {
    private static final Logger log = LoggerFactory.getLogger(BlobUploads.class);

    private final BlobStore blobs;
    private final MetadataStore metadata;
    private final Clock clock;
    private final long maxUploadBytes;
    private final Duration idleTimeout;
    private final Map<String, UploadSession> sessions = new ConcurrentHashMap<>();

    private final String owner;

    BlobUploads(BlobStore blobs, MetadataStore metadata, Clock clock, long maxUploadBytes, Duration idleTimeout) {
        this(blobs, metadata, clock, maxUploadBytes, idleTimeout, UploadRecord.LOCAL);
    }

    /** {@code owner}: the replica whose ingest holds the sessions' bytes (its start-up forgets them). */
    BlobUploads(BlobStore blobs, MetadataStore metadata, Clock clock, long maxUploadBytes, Duration idleTimeout,
                String owner) {
        this.owner = requireNonNull(owner, "owner");
        this.blobs = requireNonNull(blobs, "blobs");
        this.metadata = requireNonNull(metadata, "metadata");
        this.clock = requireNonNull(clock, "clock");
        this.maxUploadBytes = maxUploadBytes;
        this.idleTimeout = requireNonNull(idleTimeout, "idleTimeout");
    }

    /** Opens a new session, already acquired by the caller. Storage executor. */
    public UploadSession start(RepoName repo) {
        requireNonNull(repo, "repo");
        try {
            UploadSession session = new UploadSession(repo, blobs.newWriter(Digest.Algorithm.SHA256), clock.millis());
            session.tryAcquire();
            sessions.put(session.id(), session);
            try {
                metadata.putUpload(new UploadRecord(session.id(), repo, clock.millis(), owner));
            } catch (RuntimeException e) {
                abort(session);
                throw e;
            }
            return session;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Takes the session for one request; release it with {@link #release}, or end it with
     * {@link #complete} or {@link #abort}.
     */
    public UploadSession acquire(RepoName repo, String id) {
        UploadSession session = find(repo, id);
        if (!session.tryAcquire()) {
            throw OciError.BLOB_UPLOAD_INVALID.exception("upload " + id + " is in use by another request");
        }
        if (session.finished()) { // expired or cancelled between the lookup and the acquire
            session.release(clock.millis());
            throw OciError.BLOB_UPLOAD_UNKNOWN.exception("upload " + id + " has ended");
        }
        return session;
    }

    /** The session, for a status request; not acquired. */
    public UploadSession status(RepoName repo, String id) {
        return find(repo, id);
    }

    /** Appends a chunk. Storage executor. An error ends the session. */
    public void append(UploadSession session, ByteBuffer chunk) {
        if (session.offset() + chunk.remaining() > maxUploadBytes) {
            abort(session);
            throw OciError.SIZE_TOO_LARGE.exception("uploads are limited to " + maxUploadBytes + " bytes");
        }
        try {
            session.writer().write(chunk);
            session.wrote(clock.millis());
        } catch (IOException | RuntimeException e) {
            abort(session);
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
    }

    /**
     * Verifies the content against {@code digest}, commits it and links it to the session's
     * repository. Storage executor. A missing digest leaves the session open; a wrong one
     * ({@code DIGEST_INVALID}) discards it, and nothing is committed.
     */
    public BlobInfo complete(UploadSession session, Digest digest) {
        if (digest == null) {
            throw OciError.DIGEST_INVALID.exception("the digest query parameter is required");
        }
        // Held from commit to record: the same bytes may be cached already, and an eviction or
        // collection of them must either finish before the commit installs the file or wait.
        try (BlobHolds.Hold hold = blobs.holds().hold(digest)) {
            BlobInfo info;
            try {
                info = session.writer().commit(digest, -1);
            } catch (IOException e) {
                forget(session);
                throw new UncheckedIOException(e);
            } catch (RuntimeException e) {
                forget(session);
                throw e;
            }
            forget(session);
            metadata.linkBlob(session.repo(), info.digest());
            long now = clock.millis();
            if (metadata.getBlob(info.digest()).isEmpty()) {
                metadata.putBlob(new BlobRecord(info.digest(), info.size(), null, now, now));
            }
            return info;
        }
    }

    /** Ends the request's use of the session, keeping it open. */
    public void release(UploadSession session) {
        session.release(clock.millis());
    }

    /** Discards the session and its bytes. Storage executor. Idempotent. */
    public void abort(UploadSession session) {
        session.writer().abort();
        forget(session);
    }

    /** {@code DELETE} of an upload. Storage executor. */
    public void cancel(RepoName repo, String id) {
        abort(acquire(repo, id));
    }

    /**
     * Mounts {@code digest} into {@code repo} if {@code from} links it, or, with {@code from} null
     * (the spec's "automatic content discovery"), if any repository does; empty otherwise (the
     * caller opens an ordinary upload). Storage executor (it may write a link).
     *
     * <p>Who may mount what. A mount is a POST, so with client authentication on only a user with
     * push rights gets here, and push includes pull of every repository, hosted or proxied (rights
     * are per user, not per repository). So a blob that some repository links is one the client
     * could read anyway: that is all a mount with {@code from} checks (of {@code from}) and all a
     * mount without it checks (of any repository). A blob in the store that no repository links
     * (deleted from every repository and not yet collected, or only stored as a manifest) is not
     * mounted, and the answer is the same 202 as for an unknown digest, so a client learns nothing
     * it could not learn by a GET. Were rights ever made per repository, the check without
     * {@code from} would have to become "linked in a repository this user may read".
     */
    public Optional<BlobInfo> mount(RepoName repo, Digest digest, RepoName from) {
        boolean readable = from == null ? metadata.isBlobLinkedAnywhere(digest) : metadata.isBlobLinked(from, digest);
        if (!readable) {
            return Optional.empty();
        }
        try (BlobHolds.Hold hold = blobs.holds().hold(digest)) {
            Optional<BlobInfo> info = blobs.stat(digest);
            info.ifPresent(i -> metadata.linkBlob(repo, digest));
            return info;
        }
    }

    /** Aborts sessions idle for longer than the timeout; returns how many. Storage executor. */
    public int expireIdle() {
        long cutoff = clock.millis() - idleTimeout.toMillis();
        int expired = 0;
        for (UploadSession session : List.copyOf(sessions.values())) {
            if (session.lastActivity() < cutoff && session.tryAcquire()) {
                if (session.lastActivity() < cutoff) {
                    log.info("upload {} to {} idle since {}: discarded", session.id(), session.repo(),
                            java.time.Instant.ofEpochMilli(session.lastActivity()));
                    abort(session);
                    expired++;
                }
                session.release(session.lastActivity());
            }
        }
        return expired;
    }

    /** Open sessions (for tests and metrics). */
    public int openSessions() {
        return sessions.size();
    }

    private UploadSession find(RepoName repo, String id) {
        UploadSession session = sessions.get(id);
        if (session == null || !session.repo().equals(repo) || session.finished()) {
            throw OciError.BLOB_UPLOAD_UNKNOWN.exception("no upload " + id + " in " + repo);
        }
        return session;
    }

    private void forget(UploadSession session) {
        session.finish();
        if (sessions.remove(session.id(), session)) {
            metadata.deleteUpload(session.id());
        }
    }
}
