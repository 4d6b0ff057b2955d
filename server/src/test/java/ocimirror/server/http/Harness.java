package ocimirror.server.http;

import java.util.function.UnaryOperator;
import ocimirror.storage.meta.MetadataStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Ticker;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.route.OciRouteParser;
import ocimirror.storage.Storage;
import ocimirror.storage.oci.Digest;
import ocimirror.testing.MutableClock;

/**
 * A registry handler on an {@link EmbeddedChannel} over real storage, behind the same flow
 * control handler as in production. Storage tasks run on {@code executor} (direct by default);
 * their completions are queued on the embedded event loop and run by {@link #drain}.
 */
final class Harness implements AutoCloseable {
    static final JsonMapper JSON = new JsonMapper();

    final Storage storage;
    final RegistryService service;
    final EmbeddedChannel ch;

    Harness(Path dir, RegistryService.Settings settings, Executor executor) throws IOException {
        this(dir, settings, executor, null, null, null, UnaryOperator.identity());
    }

    /** @param auth a handler between the flow control and the registry (client authentication), or null */
    Harness(Path dir, RegistryService.Settings settings, Executor executor, ChannelHandler auth) throws IOException {
        this(dir, settings, executor, auth, null, null, UnaryOperator.identity());
    }

    /**
     * With the production idle handler in front (reader idle: {@code bodyTimeout}; all idle: an
     * hour), on {@code ticker}'s time; {@code bodyTimeout} null: no idle handler, system time.
     */
    Harness(Path dir, RegistryService.Settings settings, Executor executor, Duration bodyTimeout, Ticker ticker)
            throws IOException {
        this(dir, settings, executor, null, bodyTimeout, ticker, UnaryOperator.identity());
    }

    /** The service sees the metadata through {@code metadata} (a store that says its reads may block). */
    Harness(Path dir, Executor executor, UnaryOperator<MetadataStore> metadata) throws IOException {
        this(dir, settings(true), executor, null, null, null, metadata);
    }

    private Harness(Path dir, RegistryService.Settings settings, Executor executor, ChannelHandler auth,
                    Duration bodyTimeout, Ticker ticker, UnaryOperator<MetadataStore> metadata) throws IOException {
        MutableClock clock = new MutableClock(java.time.Instant.parse("2026-01-01T00:00:00Z"));
        storage = Storage.open(dir, clock);
        service = new RegistryService(storage.blobs(), metadata.apply(storage.metadata()), clock, settings);
        RegistryHandler registry = new RegistryHandler(service, executor, new OciRouteParser(), new ErrorResponses());
        ChannelHandler[] handlers = auth == null
                ? new ChannelHandler[] {new FlowControlHandler(), registry}
                : new ChannelHandler[] {new FlowControlHandler(), auth, registry};
        if (bodyTimeout == null) {
            ch = new EmbeddedChannel(handlers);
        } else {
            ChannelHandler[] withIdle = new ChannelHandler[handlers.length + 1];
            withIdle[0] = new IdleStateHandler(bodyTimeout.toNanos(), 0, Duration.ofHours(1).toNanos(),
                    TimeUnit.NANOSECONDS);
            System.arraycopy(handlers, 0, withIdle, 1, handlers.length);
            ch = EmbeddedChannel.builder().ticker(ticker).handlers(withIdle).build();
        }
    }

    Harness(Path dir) throws IOException {
        this(dir, settings(true), Runnable::run);
    }

    static RegistryService.Settings settings(boolean deleteEnabled) {
        return new RegistryService.Settings(4096, 64L << 20, deleteEnabled, Duration.ofHours(1));
    }

    /** A response as the handler wrote it: head, body bytes and the types of the parts written. */
    record Response(HttpResponse head, byte[] body, List<Class<?>> parts) {
        int status() {
            return head.status().code();
        }

        String header(CharSequence name) {
            return head.headers().get(name);
        }

        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The OCI error code of an error response. */
        String code() {
            return json().get("errors").get(0).get("code").asText();
        }
    }

    static HttpRequest request(HttpMethod method, String uri) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
    }

    /** Sends a request with {@code chunks} as its body and returns the response. */
    Response send(HttpRequest request, byte[]... chunks) {
        if (chunks.length > 0 && !request.headers().contains(HttpHeaderNames.CONTENT_LENGTH)
                && !request.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            long total = 0;
            for (byte[] c : chunks) {
                total += c.length;
            }
            request.headers().set(HttpHeaderNames.CONTENT_LENGTH, total);
        }
        ch.writeInbound(request);
        for (byte[] c : chunks) {
            ch.writeInbound(new DefaultHttpContent(Unpooled.wrappedBuffer(c)));
        }
        ch.writeInbound(new DefaultLastHttpContent());
        return response();
    }

    Response send(HttpMethod method, String uri, byte[]... chunks) {
        return send(request(method, uri), chunks);
    }

    /** Runs queued completions until nothing is left. */
    void drain() {
        for (int i = 0; i < 1000; i++) {
            ch.runPendingTasks();
        }
    }

    /** The next complete response written to the channel. */
    Response response() {
        drain();
        Object first = ch.readOutbound();
        assertNotNull(first, "no response was written");
        HttpResponse head = (HttpResponse) first;
        List<Class<?>> parts = new ArrayList<>();
        parts.add(first.getClass());
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        Object part = first;
        try {
            while (!(part instanceof LastHttpContent)) {
                if (part != first) {
                    parts.add(part.getClass());
                }
                if (part instanceof HttpContent c) {
                    body.writeBytes(ByteBufUtil.getBytes(c.content()));
                } else if (part instanceof FileRegion region) {
                    WritableByteChannel out = Channels.newChannel(body);
                    while (region.transferred() < region.count()) {
                        region.transferTo(out, region.transferred());
                    }
                }
                if (part != first) {
                    ReferenceCountUtil.release(part);
                }
                part = ch.readOutbound();
                assertNotNull(part, "the response ended without its last content");
            }
            if (part != first) {
                parts.add(part.getClass());
            }
            body.writeBytes(ByteBufUtil.getBytes(((LastHttpContent) part).content()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            ReferenceCountUtil.release(part);
        }
        return new Response(head, body.toByteArray(), parts);
    }

    /** Uploads {@code content} monolithically to {@code repo}; asserts 201. */
    Digest pushBlob(String repo, byte[] content) {
        Digest d = Digest.sha256(content);
        Response r = send(HttpMethod.POST, "/v2/" + repo + "/blobs/uploads/?digest=" + d, content);
        assertEquals(201, r.status(), () -> new String(r.body()));
        return d;
    }

    @Override
    public void close() {
        try {
            ch.finishAndReleaseAll();
        } finally {
            storage.close();
        }
    }
}
