package ocimirror.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import java.util.function.Consumer;
import ocimirror.storage.oci.OciError;

/**
 * Gathers a manifest body in memory, up to the manifest size limit: past it the request is
 * refused with {@code SIZE_TOO_LARGE} at once, without reading the rest into memory.
 */
final class ManifestBody implements RequestBody {
    private final RegistryHandler handler;
    private final Exchange exchange;
    private final int limit;
    private final Consumer<byte[]> onComplete;
    private CompositeByteBuf buf;
    private boolean failed;

    ManifestBody(RegistryHandler handler, Exchange exchange, ByteBufAllocator alloc, int limit, Consumer<byte[]> onComplete) {
        this.handler = handler;
        this.exchange = exchange;
        this.limit = limit;
        this.onComplete = onComplete;
        this.buf = alloc.compositeBuffer(1024);
    }

    @Override
    public void content(ByteBuf content) {
        if (failed) {
            return;
        }
        if ((long) buf.readableBytes() + content.readableBytes() > limit) {
            failed = true;
            release();
            handler.fail(exchange, OciError.SIZE_TOO_LARGE.exception("manifests are limited to " + limit + " bytes"));
            return;
        }
        buf.addComponent(true, content.retain());
    }

    @Override
    public void end() {
        if (failed) {
            return;
        }
        byte[] bytes = ByteBufUtil.getBytes(buf);
        release();
        onComplete.accept(bytes);
    }

    @Override
    public void abort() {
        release();
    }

    private void release() {
        if (buf != null) {
            buf.release();
            buf = null;
        }
    }
}
