package ocimirror.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import ocimirror.config.AuthConfig;
import ocimirror.config.AuthConfig.Access;
import ocimirror.config.TlsConfig;
import ocimirror.config.pki.Pem;
import ocimirror.server.http.ErrorResponses;
import ocimirror.testing.Commands;
import ocimirror.server.tls.ServerTls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The handler in a real pipeline shaped like the mirror's (TLS, codec, keep-alive, flow control,
 * auth, then a handler that stops reading while it answers, as the registry handler does), with
 * password checks on a real pool and the JDK's HTTP client answering the Basic challenge itself.
 */
class ClientAuthOverHttpsTest {
    @TempDir
    Path dir;
    private EventLoopGroup group;
    private ExecutorService hashing;
    private ServerTls tls;
    private Channel server;

    @BeforeEach
    void start() throws Exception {
        Commands.require("htpasswd", "apache2-utils");
        Path file = dir.resolve("htpasswd");
        Commands.check("htpasswd", "-B", "-b", "-c", file.toString(), "ci", "push-pw");
        Commands.check("htpasswd", "-B", "-b", file.toString(), "node", "pull-pw");
        HtpasswdAuthenticator authenticator = new HtpasswdAuthenticator(
                new AuthConfig(file, "mirror", Map.of("ci", Access.PUSH), null), Clock.systemUTC());
        tls = ServerTls.start(TlsConfig.defaults(), dir.resolve("data"), Clock.systemUTC());
        hashing = Executors.newFixedThreadPool(2);
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ErrorResponses errors = new ErrorResponses();
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()))
                                .addLast("http", new HttpServerCodec())
                                .addLast("keep-alive", new HttpServerKeepAliveHandler())
                                .addLast("flow", new FlowControlHandler())
                                .addLast("auth", new ClientAuthHandler(authenticator, hashing, errors))
                                .addLast("registry", new Echo());
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close().sync();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
        if (hashing != null) {
            hashing.shutdownNow();
        }
        if (tls != null) {
            tls.close();
        }
    }

    /** Answers 200 with the method, URI and body size once a request's body is in; reading stops meanwhile. */
    static final class Echo extends ChannelInboundHandlerAdapter {
        private HttpRequest current;
        private long size;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest r) {
                current = r;
                size = 0;
            }
            if (msg instanceof HttpContent c) {
                size += c.content().readableBytes();
            }
            if (msg instanceof LastHttpContent) {
                ctx.channel().config().setAutoRead(false);
                byte[] body = (current.method() + " " + current.uri() + " " + size).getBytes(StandardCharsets.UTF_8);
                FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.wrappedBuffer(body));
                r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
                // Answer a little later, as a storage task would.
                ctx.executor().schedule(() -> ctx.writeAndFlush(r).addListener(f -> ctx.channel().config().setAutoRead(true)),
                        2, TimeUnit.MILLISECONDS);
            }
            ReferenceCountUtil.release(msg);
        }
    }

    private HttpClient client(String user, String password) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", Pem.readCertificate(dir.resolve("data/pki/ca.crt")));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        HttpClient.Builder b = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10));
        if (user != null) {
            b.authenticator(new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return new PasswordAuthentication(user, password.toCharArray());
                }
            });
        }
        return b.build();
    }

    private String url(String path) {
        return "https://localhost:" + ((java.net.InetSocketAddress) server.localAddress()).getPort() + path;
    }

    @Test
    void aClientAnswersTheChallengeAndKeepsPulling() throws Exception {
        HttpClient node = client("node", "pull-pw");
        for (int i = 0; i < 20; i++) {
            HttpResponse<String> r = node.send(java.net.http.HttpRequest.newBuilder(URI.create(url("/v2/app/blobs/" + i)))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertEquals("GET /v2/app/blobs/" + i + " 0", r.body());
        }
    }

    @Test
    void withoutCredentialsOrWithTheWrongOnesIt401s() throws Exception {
        HttpResponse<String> anonymous = client(null, null).send(
                java.net.http.HttpRequest.newBuilder(URI.create(url("/v2/"))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, anonymous.statusCode());
        assertEquals("Basic realm=\"mirror\"", anonymous.headers().firstValue("WWW-Authenticate").orElseThrow());
        assertTrue(anonymous.body().contains("\"UNAUTHORIZED\""), anonymous.body());

        HttpResponse<String> wrong = client(null, null).send(java.net.http.HttpRequest.newBuilder(URI.create(url("/v2/")))
                .header("Authorization", HtpasswdAuthenticatorTest.basic("node", "nope")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, wrong.statusCode());
    }

    @Test
    void pushRightsDecideUploadsAndTheBodyGoesWhereItShould() throws Exception {
        byte[] blob = new byte[300_000];
        HttpResponse<String> ci = client("ci", "push-pw").send(java.net.http.HttpRequest.newBuilder(
                URI.create(url("/v2/app/blobs/uploads/1"))).method("PATCH", BodyPublishers.ofByteArray(blob)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ci.statusCode());
        assertEquals("PATCH /v2/app/blobs/uploads/1 300000", ci.body(), "the whole body reached the registry");

        HttpClient node = client(null, null);
        HttpResponse<String> denied = node.send(java.net.http.HttpRequest.newBuilder(URI.create(url("/v2/app/blobs/uploads/1")))
                .header("Authorization", HtpasswdAuthenticatorTest.basic("node", "pull-pw"))
                .method("PATCH", BodyPublishers.ofByteArray(blob)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, denied.statusCode());
        assertTrue(denied.body().contains("\"DENIED\""), denied.body());
        HttpResponse<String> after = node.send(java.net.http.HttpRequest.newBuilder(URI.create(url("/v2/app/manifests/1")))
                .header("Authorization", HtpasswdAuthenticatorTest.basic("node", "pull-pw")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, after.statusCode(), "the dropped body did not confuse the connection");
        assertEquals("GET /v2/app/manifests/1 0", after.body());
    }
}
