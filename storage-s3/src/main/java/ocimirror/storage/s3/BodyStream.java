package ocimirror.storage.s3;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A response body as an {@link InputStream}, fed by the connection's event loop. The connection
 * reads from the socket only while less than {@link #HIGH_WATER} bytes wait here, so a slow reader
 * holds at most that much memory. Closing the stream before the end closes the connection
 * (the rest of the body is not worth reading).
 */
final class BodyStream extends InputStream {
    static final long HIGH_WATER = 1 << 20;
    static final Object END = new Object();

    private final S3Http.Exchange exchange;
    private final Duration timeout;
    private ByteBuf current;
    private boolean ended;
    private boolean closed;

    BodyStream(S3Http.Exchange exchange, Duration timeout) {
        this.exchange = exchange;
        this.timeout = timeout;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (closed) {
            throw new IOException("stream closed");
        }
        if (len == 0) {
            return 0;
        }
        if (!next()) {
            return -1;
        }
        int n = Math.min(len, current.readableBytes());
        current.readBytes(b, off, n);
        return n;
    }

    /** Makes {@link #current} readable; false at the end of the body. */
    private boolean next() throws IOException {
        while (current == null || !current.isReadable()) {
            if (current != null) {
                current.release();
                current = null;
            }
            if (ended) {
                return false;
            }
            Object o;
            try {
                o = exchange.chunks.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted reading an S3 response");
            }
            if (o == null) {
                throw new IOException("S3 response stalled for " + timeout);
            }
            if (o == END) {
                ended = true;
                return false;
            }
            if (o instanceof IOException e) {
                ended = true;
                throw new IOException("S3 response cut: " + e.getMessage(), e);
            }
            current = (ByteBuf) o;
            if (exchange.queued.addAndGet(-current.readableBytes()) < HIGH_WATER / 2) {
                exchange.demand();
            }
        }
        return true;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (current != null) {
            current.release();
            current = null;
        }
        if (!ended) {
            exchange.channel.close();
        }
        for (Object o; (o = exchange.chunks.poll()) != null; ) {
            if (o instanceof ByteBuf buf) {
                buf.release();
            }
        }
    }
}
