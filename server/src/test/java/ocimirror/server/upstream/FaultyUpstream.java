package ocimirror.server.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * An in-process HTTP server that misbehaves at a chosen byte: the one kind of upstream the
 * real registry cannot play (an answer that stops halfway, a connection that never answers).
 */
final class FaultyUpstream implements AutoCloseable {

    /** What to do on one connection after reading the request head. */
    sealed interface Behaviour {
    }

    /** Never answer; keep the connection open. */
    record Silent() implements Behaviour {
    }

    /** Close without answering. */
    record Hangup() implements Behaviour {
    }

    /** Declare {@code body.length} bytes, send the first {@code sent}, then close or stall. */
    record Partial(byte[] body, int sent, boolean stall) implements Behaviour {
    }

    /** A 200 of {@code length} bytes of a repeating pattern, written in 64 KiB pieces, counted in {@link #bodyBytesWritten}. */
    record Large(long length) implements Behaviour {
    }

    /** A complete 200 with {@code body}. */
    record Full(byte[] body) implements Behaviour {
    }

    final AtomicInteger connections = new AtomicInteger();
    final java.util.concurrent.atomic.AtomicLong bodyBytesWritten = new java.util.concurrent.atomic.AtomicLong();
    final List<String> requests = new CopyOnWriteArrayList<>();
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    /** {@code script} maps the connection number (0, 1, ...) to its behaviour. */
    FaultyUpstream(IntFunction<Behaviour> script) throws IOException {
        server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        threads.submit(() -> {
            while (!server.isClosed()) {
                Socket s;
                try {
                    s = server.accept();
                } catch (IOException closed) {
                    return;
                }
                open.add(s);
                int n = connections.getAndIncrement();
                threads.submit(() -> serve(s, script.apply(n)));
            }
        });
    }

    String url() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    private void serve(Socket s, Behaviour b) {
        try {
            InputStream in = s.getInputStream();
            requests.add(readHead(in));
            OutputStream out = s.getOutputStream();
            if (b instanceof Silent) {
                in.read(); // blocks until the client gives up and closes
            } else if (b instanceof Hangup) {
                s.close();
            } else if (b instanceof Partial p) {
                out.write(head(p.body().length));
                out.write(p.body(), 0, p.sent());
                out.flush();
                if (p.stall()) {
                    in.read();
                }
                s.close();
            } else if (b instanceof Large l) {
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + l.length() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                byte[] piece = new byte[64 * 1024];
                for (int i = 0; i < piece.length; i++) {
                    piece[i] = (byte) i;
                }
                for (long left = l.length(); left > 0; ) {
                    int n = (int) Math.min(piece.length, left);
                    out.write(piece, 0, n); // blocks once the client stops reading and the socket buffers are full
                    bodyBytesWritten.addAndGet(n);
                    left -= n;
                }
                out.flush();
                in.read();
            } else if (b instanceof Full f) {
                out.write(head(f.body().length));
                out.write(f.body());
                out.flush();
                in.read(); // keep-alive: wait for the client to close or send more
            }
        } catch (IOException e) {
            // the client closed: expected in every fault scenario
        } finally {
            try {
                s.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }

    private static byte[] head(int length) {
        return ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            b.append((char) c);
            if (b.length() >= 4 && b.substring(b.length() - 4).equals("\r\n\r\n")) {
                break;
            }
        }
        return b.toString();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) {
            s.close();
        }
        threads.shutdownNow();
    }
}
