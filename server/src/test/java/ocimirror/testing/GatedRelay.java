package ocimirror.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A TCP relay on 127.0.0.1 in front of a real server, whose answers can be held back: while the
 * gate is closed, bytes from the server wait in the relay (requests still go through). Tests use
 * it to have several clients wait on one upstream response at a known moment, which a real
 * registry on loopback answers too fast to catch.
 */
public final class GatedRelay implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress target;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Object lock = new Object();
    private boolean open = true;

    public GatedRelay(int targetPort) throws IOException {
        this.target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.submit(this::accept);
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Holds the server's bytes from now on. */
    public void hold() {
        gate(false);
    }

    /** Lets held and further bytes through. */
    public void release() {
        gate(true);
    }

    private void gate(boolean pass) {
        synchronized (lock) {
            open = pass;
            lock.notifyAll();
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(target, 5000);
                sockets.add(client);
                sockets.add(upstream);
                threads.submit(() -> pump(client, upstream, false));
                threads.submit(() -> pump(upstream, client, true));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void pump(Socket from, Socket to, boolean gated) {
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            for (int n; (n = in.read(buf)) >= 0; ) {
                if (gated) {
                    awaitOpen();
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // the other side closed, or the relay did
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private void awaitOpen() throws InterruptedException {
        synchronized (lock) {
            while (!open) {
                lock.wait(1000);
            }
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        release();
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.forEach(GatedRelay::closeQuietly);
        threads.shutdownNow();
    }
}
