package ocimirror.storage.s3;

import static java.util.Objects.requireNonNull;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.ChannelPool;
import io.netty.channel.pool.SimpleChannelPool;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/**
 * A small HTTP/1.1 client for the S3 REST API on Netty: pooled keep-alive connections to one
 * endpoint, every request signed with {@link SigV4Signer}, blocking calls for the storage threads.
 * Request bodies are written from the caller's buffer without a copy; response bodies are either
 * collected (the small XML answers) or streamed with back-pressure: the connection reads from the
 * socket only while the reader keeps up ({@code AUTO_READ} is off).
 *
 * <p>Thread-safe. Never call it on one of its own event loops.
 */
final class S3Http implements AutoCloseable {
    /** Collected response bodies larger than this are cut (they are XML answers and error documents). */
    private static final int MAX_COLLECTED = 4 << 20;

    private final S3Location location;
    private final AwsCredentialsProvider credentials;
    private final SigV4Signer signer;
    private final Duration timeout;
    private final EventLoopGroup group;
    private final boolean ownGroup;
    private final ChannelPool pool;

    /** A response with its body collected. */
    record Response(int status, HttpHeaders headers, byte[] body) {
        String text() {
            return new String(body, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /**
     * @param group the event loops to use and the channel type they take, or null for a NIO loop of
     *     this client's own
     */
    S3Http(S3Location location, AwsCredentialsProvider credentials, SigV4Signer signer, Duration timeout,
            EventLoopGroup group, Class<? extends Channel> channelType) throws SSLException {
        this.location = requireNonNull(location, "location");
        this.credentials = requireNonNull(credentials, "credentials");
        this.signer = requireNonNull(signer, "signer");
        this.timeout = requireNonNull(timeout, "timeout");
        this.ownGroup = group == null;
        this.group = ownGroup ? new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory()) : group;
        SslContext ssl = location.tls()
                ? SslContextBuilder.forClient().endpointIdentificationAlgorithm("HTTPS").build()
                : null;
        Bootstrap bootstrap = new Bootstrap().group(this.group)
                .channel(ownGroup ? NioSocketChannel.class : requireNonNull(channelType, "channelType"))
                .remoteAddress(location.host(), location.port())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(timeout.toMillis(), 30_000));
        this.pool = new SimpleChannelPool(bootstrap, new AbstractChannelPoolHandler() {
            @Override
            public void channelCreated(Channel ch) {
                if (ssl != null) {
                    ch.pipeline().addLast(ssl.newHandler(ch.alloc(), location.host(), location.port()));
                }
                ch.pipeline().addLast(new HttpClientCodec());
            }

            // An idle pooled connection reads, so that a server closing it (S3 does after a few seconds
            // idle) is noticed and the pool drops it, instead of handing out a dead connection.
            @Override
            public void channelReleased(Channel ch) {
                ch.config().setAutoRead(true);
            }

            @Override
            public void channelAcquired(Channel ch) {
                ch.config().setAutoRead(false);
            }
        });
    }

    /**
     * Sends a request and collects the response. {@code body} (released here) is sent as it is;
     * null sends none.
     */
    Response call(HttpMethod method, String key, Map<String, String> query, Map<String, String> headers, ByteBuf body)
            throws IOException {
        Exchange exchange = send(method, key, query, headers, body, false);
        HttpResponse head = await(exchange.done, exchange);
        return new Response(head.status().code(), head.headers(), exchange.collected());
    }

    /** A GET whose body is read as a stream; close the stream (early, if need be) when done. */
    Streamed stream(String key, Map<String, String> headers) throws IOException {
        Exchange exchange = send(HttpMethod.GET, key, Map.of(), headers, null, true);
        HttpResponse head = await(exchange.head, exchange);
        return new Streamed(head.status().code(), head.headers(), new BodyStream(exchange, timeout));
    }

    /** A response whose body is still arriving. */
    record Streamed(int status, HttpHeaders headers, InputStream body) {
    }

    private Exchange send(HttpMethod method, String key, Map<String, String> query, Map<String, String> extra,
            ByteBuf body, boolean streaming) throws IOException {
        ByteBuf content = body == null ? Unpooled.EMPTY_BUFFER : body;
        Channel ch;
        try {
            String path = location.path(key);
            SortedMap<String, String> headers = new TreeMap<>();
            headers.put("host", location.hostHeader());
            extra.forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), v));
            signer.sign(method.name(), path, query, headers,
                    body == null ? SigV4Signer.EMPTY_SHA256 : SigV4Signer.UNSIGNED_PAYLOAD, credentials.credentials());
            String q = SigV4Signer.canonicalQuery(query);
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method,
                    q.isEmpty() ? path : path + "?" + q, content);
            headers.forEach(request.headers()::set);
            HttpUtil.setContentLength(request, content.readableBytes());
            ch = acquire();
            Exchange exchange = new Exchange(ch, streaming);
            ch.pipeline().addLast("exchange", exchange);
            content = null; // the write owns it now
            ch.writeAndFlush(request).addListener(f -> {
                if (!f.isSuccess()) {
                    exchange.fail(f.cause());
                }
            });
            ch.read();
            return exchange;
        } finally {
            if (content != null) {
                content.release();
            }
        }
    }

    private Channel acquire() throws IOException {
        Future<Channel> f = pool.acquire();
        if (!f.awaitUninterruptibly(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            f.cancel(false);
            throw new IOException("no connection to " + location.endpoint() + " within " + timeout);
        }
        if (!f.isSuccess()) {
            throw new IOException("connecting to " + location.endpoint() + ": " + f.cause(), f.cause());
        }
        return f.getNow();
    }

    private <T> T await(CompletableFuture<T> f, Exchange exchange) throws IOException {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            exchange.channel.close();
            throw new IOException("no answer from " + location.endpoint() + " within " + timeout);
        } catch (InterruptedException e) {
            exchange.channel.close();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for " + location.endpoint());
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException io ? io : new IOException(location.endpoint() + ": " + cause, cause);
        }
    }

    /** One request on one pooled connection: gives the connection back when the response has been read. */
    final class Exchange extends ChannelInboundHandlerAdapter {
        final Channel channel;
        final boolean streaming;
        final CompletableFuture<HttpResponse> head = new CompletableFuture<>();
        final CompletableFuture<HttpResponse> done = new CompletableFuture<>();
        final java.util.concurrent.LinkedBlockingQueue<Object> chunks = new java.util.concurrent.LinkedBlockingQueue<>();
        final java.util.concurrent.atomic.AtomicLong queued = new java.util.concurrent.atomic.AtomicLong();
        private ByteBuf collected;
        private HttpResponse response;
        private boolean finished;

        Exchange(Channel channel, boolean streaming) {
            this.channel = channel;
            this.streaming = streaming;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpResponse r) {
                response = r;
                head.complete(r);
            }
            if (msg instanceof HttpContent c) {
                if (streaming) {
                    if (c.content().isReadable()) {
                        queued.addAndGet(c.content().readableBytes());
                        chunks.add(c.content().retain());
                    }
                } else {
                    if (collected == null) {
                        collected = ctx.alloc().heapBuffer();
                    }
                    if (collected.readableBytes() < MAX_COLLECTED) {
                        collected.writeBytes(c.content());
                    }
                }
                if (c instanceof LastHttpContent) {
                    finish(ctx, HttpUtil.isKeepAlive(response));
                }
            }
            io.netty.util.ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (!finished && (!streaming || queued.get() < BodyStream.HIGH_WATER)) {
                ctx.read();
            }
        }

        /** Called by the reader when it has room again. */
        void demand() {
            channel.eventLoop().execute(() -> {
                if (!finished && channel.isActive()) {
                    channel.read();
                }
            });
        }

        private void finish(ChannelHandlerContext ctx, boolean reuse) {
            finished = true;
            ctx.pipeline().remove(this);
            if (reuse) {
                pool.release(channel);
            } else {
                channel.close();
                pool.release(channel);
            }
            chunks.add(BodyStream.END);
            done.complete(response);
        }

        byte[] collected() {
            if (collected == null) {
                return new byte[0];
            }
            byte[] b = ByteBufUtil.getBytes(collected);
            collected.release();
            collected = null;
            return b;
        }

        /** On the event loop. */
        void fail(Throwable cause) {
            if (collected != null) {
                collected.release();
                collected = null;
            }
            IOException e = cause instanceof IOException io ? io
                    : new IOException(location.endpoint() + ": " + cause, cause);
            chunks.add(e);
            head.completeExceptionally(e);
            done.completeExceptionally(e);
            channel.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!finished) {
                finished = true;
                fail(cause);
                pool.release(channel);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!finished) {
                finished = true;
                fail(new IOException("connection to " + location.endpoint() + " closed mid-response"));
                pool.release(channel);
            }
            ctx.fireChannelInactive();
        }
    }

    @Override
    public void close() {
        pool.close();
        if (ownGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }
}
