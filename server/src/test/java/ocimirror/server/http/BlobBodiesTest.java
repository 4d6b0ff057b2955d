package ocimirror.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The transfer is chosen at write time: a file region in plaintext, chunked input under TLS. */
class BlobBodiesTest {
    @TempDir
    Path dir;

    /** Keeps what is written below the registry handler, completing each write. */
    static final class Capture extends ChannelOutboundHandlerAdapter {
        final List<Object> written = new ArrayList<>();

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            written.add(msg);
            promise.setSuccess();
        }
    }

    private Path blob() throws Exception {
        return Files.write(dir.resolve("blob"), "0123456789".getBytes());
    }

    @Test
    void plaintextSendsAFileRegionThenTheLastContent() throws Exception {
        Capture capture = new Capture();
        EmbeddedChannel ch = new EmbeddedChannel(capture, new ChannelInboundHandlerAdapter());
        BlobBodies.write(ch.pipeline().lastContext(), FileChannel.open(blob()), 2, 5);
        assertEquals(2, capture.written.size());
        DefaultFileRegion region = assertInstanceOf(DefaultFileRegion.class, capture.written.get(0));
        assertEquals(2, region.position());
        assertEquals(5, region.count());
        assertInstanceOf(LastHttpContent.class, capture.written.get(1));
        capture.written.forEach(ReferenceCountUtil::release);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void tlsSendsChunkedInputEndingWithTheLastContent() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine();
        engine.setUseClientMode(false);
        Capture capture = new Capture();
        EmbeddedChannel ch = new EmbeddedChannel(new SslHandler(engine), capture, new ChannelInboundHandlerAdapter());
        BlobBodies.write(ch.pipeline().lastContext(), FileChannel.open(blob()), 2, 5);
        assertEquals(1, capture.written.size());
        HttpChunkedInput input = assertInstanceOf(HttpChunkedInput.class, capture.written.get(0));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        HttpContent chunk;
        boolean sawLast = false;
        while ((chunk = input.readChunk(ByteBufAllocator.DEFAULT)) != null) {
            bytes.writeBytes(ByteBufUtil.getBytes(chunk.content()));
            sawLast |= chunk instanceof LastHttpContent;
            chunk.release();
        }
        input.close();
        assertArrayEquals("23456".getBytes(), bytes.toByteArray());
        assertEquals(true, sawLast);
        ch.finishAndReleaseAll(); // not asserted: closing the SslHandler may emit its close_notify
    }
}
