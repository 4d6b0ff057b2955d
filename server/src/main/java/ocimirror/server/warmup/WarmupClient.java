package ocimirror.server.warmup;

import static java.nio.charset.StandardCharsets.US_ASCII;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLException;

/**
 * The warm-up's client: requests written as prepared bytes on its own connections to the
 * throw-away proxy, each response read by a parser that knows a status line and
 * {@code Content-Length} and drops the body. The mirror's upstream client would do, but it runs
 * its whole client side (request objects, the response decoder and aggregator, its pool, auth,
 * redirects, the JDK's certificate path validation) thousands of times per round, so the JIT
 * compiles it and the code and classes stay in a server whose load never needs them (the
 * proxy's own cold fetches are too few to get that far). What this compiles of TLS is the
 * server's own engine and handler (OpenSSL where it loaded).
 *
 * <p>One request at a time per connection, no pipelining: what clients send and the proxy
 * answers in order anyway. The proxy is the one this JVM just started on 127.0.0.1, so its
 * certificate is not checked: the check would compile the JDK's path validation, which a
 * server never runs (its clients check it, not it).
 */
final class WarmupClient implements AutoCloseable {
    private static final int MAX_HEAD = 16 << 10;

    private final EventLoopGroup group;
    private final int port;
    private final SslContext tls;
    private final List<Connection> connections = new ArrayList<>();

    /** @param tls whether the proxy speaks TLS */
    WarmupClient(EventLoopGroup group, int port, boolean tls) throws SSLException {
        this.group = group;
        this.port = port;
        this.tls = tls ? SslContextBuilder.forClient()
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .build() : null;
    }

    /** A request's bytes: {@code method path HTTP/1.1} with a Host and the given header lines. */
    static ByteBuf request(String method, String path, String... headers) {
        StringBuilder s = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\n")
                .append("Host: 127.0.0.1\r\nUser-Agent: ocimirror-warmup\r\n");
        for (String h : headers) {
            s.append(h).append("\r\n");
        }
        return Unpooled.unreleasableBuffer(Unpooled.copiedBuffer(s.append("\r\n"), US_ASCII));
    }

    /** Closes every connection: the next {@link #connect} opens new ones (new TCP and TLS handshakes). */
    void disconnect() {
        for (Connection c : connections) {
            c.channel.close();
        }
        connections.clear();
    }

    /** Opens {@code n} connections (after {@link #disconnect}), each then used by {@link #send}. */
    void connect(int n) throws InterruptedException {
        Bootstrap b = new Bootstrap().group(group)
                .channel(Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc(), "127.0.0.1", port));
                        }
                        ch.pipeline().addLast(new Connection());
                    }
                });
        while (connections.size() < n) {
            connections.add(b.connect("127.0.0.1", port).sync().channel().pipeline().get(Connection.class));
        }
    }

    /**
     * Sends {@code request} on connection {@code i}, whose previous request must be answered;
     * completes when the whole response is read, exceptionally unless its status is 200.
     */
    CompletableFuture<Void> send(int i, ByteBuf request, boolean head) {
        Connection c = connections.get(i);
        CompletableFuture<Void> done = new CompletableFuture<>();
        c.channel.eventLoop().execute(() -> {
            c.start(done, head);
            c.channel.writeAndFlush(request.duplicate()).addListener(f -> {
                if (!f.isSuccess()) {
                    c.fail(f.cause());
                }
            });
        });
        return done;
    }

    @Override
    public void close() {
        disconnect();
    }

    /** One connection's response parser; runs on its event loop only. */
    static final class Connection extends ChannelInboundHandlerAdapter {
        private Channel channel;
        private final byte[] head = new byte[MAX_HEAD];
        private int headLength;
        private CompletableFuture<Void> waiting;
        private boolean headOnly;
        private long bodyLeft = -1; // -1: reading the head

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            channel = ctx.channel();
        }

        /** Waits for the response to a request about to be written; {@code head}: it has no body. */
        void start(CompletableFuture<Void> done, boolean head) {
            if (!channel.isActive()) {
                done.completeExceptionally(new IOException("warm-up connection closed"));
                return;
            }
            waiting = done;
            headOnly = head;
            bodyLeft = -1;
            headLength = 0;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            try {
                read(in);
            } catch (IOException | RuntimeException e) {
                fail(e);
            } finally {
                in.release();
            }
        }

        private void read(ByteBuf in) throws IOException {
            if (waiting == null) {
                throw new IOException("warm-up: bytes with no request waiting");
            }
            if (bodyLeft < 0) {
                int end = headEnd(in);
                int n = (end < 0 ? in.writerIndex() : end) - in.readerIndex();
                if (n > MAX_HEAD - headLength) {
                    throw new IOException("warm-up: a response head over " + MAX_HEAD + " bytes");
                }
                in.readBytes(head, headLength, n);
                headLength += n;
                if (end < 0) {
                    return;
                }
                bodyLeft = parseHead();
            }
            int n = (int) Math.min(bodyLeft, in.readableBytes());
            in.skipBytes(n);
            bodyLeft -= n;
            if (in.isReadable()) {
                throw new IOException("warm-up: more bytes than the response's Content-Length");
            }
            if (bodyLeft == 0) {
                CompletableFuture<Void> done = waiting;
                waiting = null;
                done.complete(null);
            }
        }

        /** The index in {@code in} just after the head's blank line, -1 if it is not in it yet. */
        private int headEnd(ByteBuf in) {
            // The blank line may straddle reads: look back into what the head already holds.
            int tail = 0;
            for (int i = Math.max(0, headLength - 3); i < headLength; i++) {
                tail = tail << 8 | head[i] & 0xff;
            }
            for (int i = in.readerIndex(); i < in.writerIndex(); i++) {
                tail = tail << 8 | in.getByte(i) & 0xff;
                if (tail == 0x0d0a0d0a) {
                    return i + 1;
                }
            }
            return -1;
        }

        /** The body's length, after checking the status is 200. */
        private long parseHead() throws IOException {
            String text = new String(head, 0, headLength, US_ASCII);
            if (!text.startsWith("HTTP/1.1 200 ")) {
                throw new IOException("warm-up: the proxy answered " + text.lines().findFirst().orElse(""));
            }
            long length = -1;
            for (String line : text.split("\r\n")) {
                int colon = line.indexOf(':');
                String name = colon < 0 ? "" : line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                if (name.equals("content-length")) {
                    length = Long.parseLong(line.substring(colon + 1).trim());
                } else if (name.equals("transfer-encoding")) {
                    throw new IOException("warm-up: a response without Content-Length");
                }
            }
            if (length < 0) {
                throw new IOException("warm-up: a response without Content-Length");
            }
            return headOnly ? 0 : length;
        }

        void fail(Throwable e) {
            CompletableFuture<Void> done = waiting;
            waiting = null;
            if (done != null) {
                done.completeExceptionally(e);
            }
            channel.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail(new IOException("warm-up connection closed by the proxy"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(cause);
        }
    }
}
