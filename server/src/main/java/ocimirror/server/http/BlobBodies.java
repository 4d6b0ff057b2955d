package ocimirror.server.http;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;

/**
 * Writes a blob's bytes after its response headers, choosing the transfer at write time (as
 * Netty's HttpStaticFileServerHandler does): in plaintext a {@link DefaultFileRegion}, which
 * the epoll transport sends with sendfile(2), then the last content; under TLS the bytes must
 * pass through the engine, so {@link HttpChunkedInput} over the file, for the
 * {@code ChunkedWriteHandler}, which ends with the last content itself.
 */
final class BlobBodies {
    static final int TLS_CHUNK = 64 * 1024;

    private BlobBodies() {
    }

    /** Writes the body and flushes; the returned future completes with the last content. */
    static ChannelFuture write(ChannelHandlerContext ctx, FileChannel file, long start, long length) {
        if (length == 0) {
            closeQuietly(file);
            return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        if (ctx.pipeline().get(SslHandler.class) == null) {
            ctx.write(new DefaultFileRegion(file, start, length));
            return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        try {
            return ctx.writeAndFlush(new HttpChunkedInput(new ChunkedNioFile(file, start, length, TLS_CHUNK)));
        } catch (IOException e) {
            closeQuietly(file);
            throw new UncheckedIOException(e);
        }
    }

    private static void closeQuietly(FileChannel file) {
        try {
            file.close();
        } catch (IOException ignored) {
            // read-only: nothing is lost
        }
    }
}
