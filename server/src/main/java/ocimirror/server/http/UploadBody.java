package ocimirror.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;
import java.nio.ByteBuffer;
import java.util.concurrent.Callable;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.server.registry.BlobUploads;
import ocimirror.server.registry.UploadSession;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams an upload body (monolithic POST, PATCH, or PUT with a final chunk) into a blob
 * writer on the storage executor, without ever holding a blob in memory.
 *
 * <p>State lives on the event loop. Content is gathered into batches of about {@link #BATCH}
 * bytes; at most one storage task per request runs at a time, so chunks are written in order.
 * When {@link #HIGH_WATER} bytes wait behind a running write, reading from the socket pauses
 * until the write is done. If the client goes away, nothing is committed: a session this
 * request opened (monolithic upload) is discarded, a client's session is kept with the bytes
 * written so far, as a status request will report.
 */
final class UploadBody implements RequestBody {
    private static final Logger log = LoggerFactory.getLogger(UploadBody.class);
    static final int BATCH = 1 << 20;
    static final int HIGH_WATER = 2 << 20;

    private final RegistryHandler handler;
    private final Exchange exchange;
    private final BlobUploads uploads;
    private final Executor storage;
    private final EventExecutor loop;
    private final ByteBufAllocator alloc;
    private final RepoName repo;
    /** Commit against this digest at the end; null: keep the session open (PATCH). */
    private final Digest commitDigest;
    /** The session was opened by this request, so it dies with it. */
    private final boolean owned;

    private UploadSession session;
    private CompositeByteBuf pending;
    private boolean inFlight;
    private boolean ended;
    private boolean finishing;
    private boolean failed;
    private boolean aborted;
    private boolean settled;

    /**
     * @param session the acquired session, or null to open one first (owned by this request)
     */
    UploadBody(RegistryHandler handler, Exchange exchange, BlobUploads uploads, Executor storage,
               EventExecutor loop, ByteBufAllocator alloc, RepoName repo, UploadSession session, Digest commitDigest) {
        this.handler = handler;
        this.exchange = exchange;
        this.uploads = uploads;
        this.storage = storage;
        this.loop = loop;
        this.alloc = alloc;
        this.repo = repo;
        this.session = session;
        this.owned = session == null;
        this.commitDigest = commitDigest;
        if (session == null) {
            submit(() -> uploads.start(repo), null);
        }
    }

    @Override
    public void content(ByteBuf content) {
        if (failed || aborted || finishing || !content.isReadable()) {
            return;
        }
        if (pending == null) {
            pending = alloc.compositeBuffer(1024);
        }
        pending.addComponent(true, content.retain());
        next();
        if (inFlight && pending != null && pending.readableBytes() >= HIGH_WATER) {
            handler.pause(exchange, true);
        }
    }

    @Override
    public void end() {
        ended = true;
        next();
    }

    @Override
    public void abort() {
        aborted = true;
        releasePending();
        if (!inFlight) {
            settle();
        }
    }

    /** Starts the next storage task if none is running. */
    private void next() {
        if (inFlight || failed || aborted || session == null) {
            return;
        }
        if (pending != null && (pending.readableBytes() >= BATCH || ended)) {
            ByteBuf batch = pending;
            pending = null;
            UploadSession s = session;
            submit(() -> {
                for (ByteBuffer b : batch.nioBuffers()) {
                    uploads.append(s, b);
                }
                return null;
            }, batch);
            return;
        }
        if (ended && !finishing) {
            finishing = true;
            if (commitDigest != null) {
                UploadSession s = session;
                submit(() -> uploads.complete(s, commitDigest), null);
            } else {
                settled = true;
                uploads.release(session);
                handler.respond(exchange, Responses.upload(HttpResponseStatus.ACCEPTED, session));
            }
        }
    }

    /** Runs {@code work} on the storage executor; {@code toRelease} is released after it, whatever happens. */
    private void submit(Callable<Object> work, ByteBuf toRelease) {
        inFlight = true;
        try {
            storage.execute(() -> {
                Object result = null;
                Throwable error = null;
                try {
                    result = work.call();
                } catch (Throwable t) {
                    error = t;
                } finally {
                    if (toRelease != null) {
                        toRelease.release();
                    }
                }
                Object r = result;
                Throwable e = error;
                try {
                    loop.execute(() -> completed(r, e));
                } catch (RejectedExecutionException x) {
                    // The event loop is shutting down: nothing can answer any more.
                    log.debug("event loop gone before an upload task finished", x);
                }
            });
        } catch (RejectedExecutionException e) {
            if (toRelease != null) {
                toRelease.release();
            }
            completed(null, e);
        }
    }

    private void completed(Object result, Throwable error) {
        inFlight = false;
        if (result instanceof UploadSession s) {
            session = s;
        }
        if (aborted) {
            settle();
            return;
        }
        if (error != null) {
            failed = true;
            releasePending();
            settle();
            handler.fail(exchange, error);
            return;
        }
        if (result instanceof BlobInfo info) {
            settled = true;
            handler.respond(exchange, created(info));
            return;
        }
        if (pending == null || pending.readableBytes() < HIGH_WATER) {
            handler.pause(exchange, false);
        }
        next();
    }

    private HttpResponse created(BlobInfo info) {
        return Responses.blobCreated(repo, info.digest());
    }

    /** Leaves the session as the end of this request requires, once. */
    private void settle() {
        if (settled || session == null) {
            return;
        }
        settled = true;
        UploadSession s = session;
        if (owned) {
            try {
                storage.execute(() -> uploads.abort(s));
            } catch (RejectedExecutionException e) {
                uploads.abort(s);
            }
        } else {
            uploads.release(s);
        }
    }

    private void releasePending() {
        if (pending != null) {
            pending.release();
            pending = null;
        }
    }
}
