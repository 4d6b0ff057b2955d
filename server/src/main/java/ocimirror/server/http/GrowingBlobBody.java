package ocimirror.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.concurrent.RejectedExecutionException;
import ocimirror.storage.blob.GrowingBlob;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams bytes {@code [start, end)} of a blob that is still downloading (from the upstream, or
 * from the shared store into this replica's tier: a {@link GrowingBlob}), from its growing
 * ingest file, at the client's pace: it writes what has arrived, waits for the write to leave
 * (the socket's backpressure), and when it has caught up waits for the download's next progress
 * (delivered back onto the channel's event loop). In plaintext each step is a file region
 * (sendfile); under TLS, chunks read from the file.
 *
 * <p>Integrity: while the download is not committed the last byte of the blob is held back, so a
 * client never sees a complete body before its digest was verified. If the download fails, the
 * connection is closed: with {@code Content-Length} already sent, the client sees a truncated
 * response, never a clean end of a wrong body. A range that ends before the blob does is
 * complete as soon as its bytes arrived. Event loop only, apart from the progress callback.
 */
final class GrowingBlobBody {
    private static final Logger log = LoggerFactory.getLogger(GrowingBlobBody.class);

    private final ChannelHandlerContext ctx;
    private final GrowingBlob fetch;
    private final SharedFile file;
    private final long end;
    private final long total;
    private final boolean tls;
    private final Runnable onDone;
    private final Runnable onRelease;
    private long pos;
    private boolean done;

    /**
     * @param file   the reader from {@link GrowingBlob#openReader()}; closed when the body is over
     * @param onDone    runs on the event loop once the body ended or was cut
     * @param onRelease runs once the body is over, even when the event loop is gone (releases the blob's hold)
     */
    GrowingBlobBody(ChannelHandlerContext ctx, GrowingBlob fetch, FileChannel file, long start, long length,
                    Runnable onDone, Runnable onRelease) {
        this.ctx = ctx;
        this.fetch = fetch;
        this.file = new SharedFile(file);
        this.pos = start;
        this.end = start + length;
        this.total = fetch.contentLength();
        this.tls = ctx.pipeline().get(SslHandler.class) != null;
        this.onDone = onDone;
        this.onRelease = onRelease;
    }

    void start() {
        next();
    }

    private void next() {
        if (done) {
            return;
        }
        if (!ctx.channel().isActive()) {
            finish();
            return;
        }
        long available = fetch.available();
        boolean committed = fetch.isCommitted();
        if (pos >= end && (committed || end < total)) {
            ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener((ChannelFutureListener) f -> {
                if (!f.isSuccess()) {
                    f.channel().close();
                }
                finish();
            });
            return;
        }
        if (fetch.failure() != null) {
            cut("the download failed: " + fetch.failure());
            return;
        }
        long limit = Math.min(end, available);
        if (!committed && limit >= total) {
            limit = total - 1; // the last byte waits for the verdict on the digest
        }
        if (pos < limit) {
            long n = limit - pos;
            ChannelFuture written;
            try {
                written = tls ? writeChunk(n) : ctx.writeAndFlush(new SharedFileRegion(file.retain(), pos, n));
            } catch (IOException | RuntimeException e) {
                cut("reading the ingest file: " + e);
                return;
            }
            long count = tls ? Math.min(n, BlobBodies.TLS_CHUNK) : n;
            written.addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    pos += count;
                    next();
                } else {
                    cut("write failed: " + f.cause());
                }
            });
            return;
        }
        fetch.awaitChange(available).whenComplete((v, e) -> {
            try {
                ctx.executor().execute(this::next);
            } catch (RejectedExecutionException gone) {
                finishQuietly();
            }
        });
    }

    private ChannelFuture writeChunk(long n) throws IOException {
        int len = (int) Math.min(n, BlobBodies.TLS_CHUNK);
        ByteBuf buf = ctx.alloc().ioBuffer(len);
        try {
            int read = 0;
            while (read < len) {
                int r = buf.writeBytes(file.channel, pos + read, len - read);
                if (r < 0) {
                    throw new IOException("ingest file ended at " + (pos + read) + ", expected " + (pos + len));
                }
                read += r;
            }
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e;
        }
        return ctx.writeAndFlush(new DefaultHttpContent(buf));
    }

    private void cut(String why) {
        log.debug("cutting blob {} body at {}: {}", fetch.digest(), pos, why);
        ctx.channel().close();
        finish();
    }

    private void finish() {
        if (!done) {
            done = true;
            file.release();
            onRelease.run();
            onDone.run();
        }
    }

    // The event loop is gone (shutdown): nothing is written any more, only the file is let go.
    private void finishQuietly() {
        if (!done) {
            done = true;
            file.release();
            onRelease.run();
        }
    }

    /**
     * The reader's channel, closed once the body is over and every region written from it was
     * released (a region may still sit in the outbound buffer when the body ends).
     */
    private static final class SharedFile extends AbstractReferenceCounted {
        final FileChannel channel;

        SharedFile(FileChannel channel) {
            this.channel = channel;
        }

        @Override
        public SharedFile retain() {
            super.retain();
            return this;
        }

        @Override
        protected void deallocate() {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing ingest reader", e);
            }
        }

        @Override
        public ReferenceCounted touch(Object hint) {
            return this;
        }
    }

    /** A file region over a shared channel: releasing it releases its reference to the channel. */
    private static final class SharedFileRegion extends DefaultFileRegion {
        private final SharedFile shared;

        SharedFileRegion(SharedFile shared, long position, long count) {
            super(shared.channel, position, count);
            this.shared = shared;
        }

        @Override
        protected void deallocate() {
            shared.release();
        }
    }
}
