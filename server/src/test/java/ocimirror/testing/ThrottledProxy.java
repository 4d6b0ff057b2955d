package ocimirror.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 that forwards to a target at a limited rate in both directions: a
 * byte-level slowdown, so that a test can catch a transfer in the middle (to kill a process
 * during it). The rate can be changed while it runs; connections are closed with the proxy.
 */
public final class ThrottledProxy implements AutoCloseable {
    private static final int CHUNK = 16 * 1024;

    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger maxOpen = new AtomicInteger();
    private volatile long bytesPerSecond;
    private volatile boolean closed;

    private ThrottledProxy(ServerSocket server, String targetHost, int targetPort, long bytesPerSecond) {
        this.server = server;
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.bytesPerSecond = bytesPerSecond;
    }

    public static ThrottledProxy start(String targetHost, int targetPort, long bytesPerSecond) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        ThrottledProxy proxy = new ThrottledProxy(server, targetHost, targetPort, bytesPerSecond);
        Thread accept = new Thread(proxy::acceptLoop, "throttled-proxy-accept");
        accept.setDaemon(true);
        accept.start();
        return proxy;
    }

    public int port() {
        return server.getLocalPort();
    }

    public String hostPort() {
        return "127.0.0.1:" + port();
    }

    /** Changes the rate for every connection, from their next chunk on. */
    public void setRate(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
    }

    /**
     * The most connections that were open through the proxy at once. An HTTP/1.1 client sends
     * one request at a time on a connection, so this bounds the requests it had in flight.
     */
    public int maxOpenConnections() {
        return maxOpen.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Socket target = new Socket(targetHost, targetPort);
                sockets.add(client);
                sockets.add(target);
                maxOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
                pump(client, target, "up", null);
                pump(target, client, "down", open::decrementAndGet);
            } catch (IOException e) {
                if (!closed) {
                    sleep(10);
                }
            }
        }
    }

    private void pump(Socket from, Socket to, String direction, Runnable onClosed) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[CHUNK];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                    out.flush();
                    sleep(n * 1000L / Math.max(1, bytesPerSecond));
                }
            } catch (IOException e) {
                // a side closed: close the other
            } finally {
                closeQuietly(from);
                closeQuietly(to);
                if (onClosed != null) {
                    onClosed.run();
                }
            }
        }, "throttled-proxy-" + direction);
        t.setDaemon(true);
        t.start();
    }

    private static void sleep(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        sockets.forEach(ThrottledProxy::closeQuietly);
    }
}
