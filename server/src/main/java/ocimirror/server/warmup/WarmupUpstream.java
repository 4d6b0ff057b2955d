package ocimirror.server.warmup;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import ocimirror.storage.oci.MediaTypes;

/**
 * The warm-up's upstream: a minimal registry on 127.0.0.1 that serves, from memory, the blobs
 * and the one manifest the warm-up put into it (GETs and HEADs only, no authentication). A
 * real ocimirror would do, but would cost a second store (RocksDB) and compile its push path,
 * which a mirror that is only pulled through never runs.
 */
final class WarmupUpstream implements AutoCloseable {
    private static final int MAX_REQUEST = 64 << 10;

    private final Map<String, ByteBuf> blobs = new ConcurrentHashMap<>();
    private final Map<String, byte[]> manifests = new ConcurrentHashMap<>();
    private final Channel channel;

    WarmupUpstream(EventLoopGroup group) throws InterruptedException {
        this.channel = new ServerBootstrap()
                .group(group)
                .channel(Epoll.isAvailable() ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_REQUEST), new Handler());
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** The first {@code length} bytes of {@code bytes}, which must not change until {@link #removeBlob}. */
    void putBlob(String digest, byte[] bytes, int length) {
        blobs.put(digest, Unpooled.wrappedBuffer(bytes, 0, length));
    }

    void removeBlob(String digest) {
        blobs.remove(digest);
    }

    /** The manifest under its tag and its digest. */
    void putManifest(String tag, String digest, byte[] bytes) {
        manifests.put(tag, bytes);
        manifests.put(digest, bytes);
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String path = request.uri();
            int q = path.indexOf('?');
            path = q < 0 ? path : path.substring(0, q);
            String name = path.substring(path.lastIndexOf('/') + 1);
            ByteBuf body = null;
            String type = "application/octet-stream";
            if (path.equals("/v2/")) {
                body = Unpooled.wrappedBuffer(new byte[] {'{', '}'});
                type = "application/json";
            } else if (path.contains("/manifests/")) {
                byte[] m = manifests.get(name);
                body = m == null ? null : Unpooled.wrappedBuffer(m);
                type = MediaTypes.OCI_MANIFEST;
            } else if (path.contains("/blobs/")) {
                ByteBuf b = blobs.get(name);
                body = b == null ? null : b.retainedDuplicate();
            }
            FullHttpResponse response;
            if (body == null) {
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND);
                HttpUtil.setContentLength(response, 0);
            } else {
                boolean head = request.method().equals(HttpMethod.HEAD);
                int length = body.readableBytes();
                if (head) {
                    body.release();
                    body = Unpooled.EMPTY_BUFFER;
                }
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
                HttpUtil.setContentLength(response, length);
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            HttpUtil.setKeepAlive(response, keepAlive);
            ChannelFuture written = ctx.writeAndFlush(response);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
