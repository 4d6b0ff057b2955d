package ocimirror.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * HTTP/1.1 over a bare socket, for requests {@link java.net.http.HttpClient} will not send
 * (un-normalised paths, huge headers, a body cut short) and for answers it would not show
 * (a connection closed without a response).
 */
public final class RawHttp {

    private static final Duration READ_TIMEOUT = Duration.ofSeconds(15);

    private RawHttp() {
    }

    /** A parsed response; header names are lower case. */
    public record Response(int status, Map<String, List<String>> headers, byte[] body, String statusLine) {

        /** The same view of a response {@link java.net.http.HttpClient} read. */
        public static Response of(HttpResponse<byte[]> r) {
            Map<String, List<String>> headers = new LinkedHashMap<>();
            r.headers().map().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v));
            return new Response(r.statusCode(), headers, r.body() == null ? new byte[0] : r.body(),
                    r.request().method() + " " + r.uri() + " -> " + r.statusCode());
        }

        public Optional<String> header(String name) {
            List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
            return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
        }

        @Override
        public String toString() {
            String text = new String(body, StandardCharsets.UTF_8);
            return statusLine + " " + headers + " " + (text.length() > 400 ? text.substring(0, 400) + "..." : text);
        }
    }

    /** A GET with {@code Connection: close} and any extra header lines. */
    public static byte[] get(String hostPort, String rawPath, String... headerLines) {
        StringBuilder sb = new StringBuilder("GET ").append(rawPath).append(" HTTP/1.1\r\nHost: ").append(hostPort)
                .append("\r\nConnection: close\r\n");
        for (String h : headerLines) {
            sb.append(h).append("\r\n");
        }
        return sb.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Request head for {@code method rawPath} with a body of {@code contentLength} bytes to follow. */
    public static byte[] head(String method, String hostPort, String rawPath, long contentLength, String... headerLines) {
        StringBuilder sb = new StringBuilder(method).append(' ').append(rawPath).append(" HTTP/1.1\r\nHost: ")
                .append(hostPort).append("\r\nConnection: close\r\nContent-Length: ").append(contentLength).append("\r\n");
        for (String h : headerLines) {
            sb.append(h).append("\r\n");
        }
        return sb.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    public static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /**
     * Sends {@code request} and reads one response. The server may answer (and close) before
     * the whole request is written, so a failed write is not an error here. Returns empty if
     * the connection closed (or was reset) without a single response byte.
     */
    public static Optional<Response> exchange(String hostPort, byte[] request) throws IOException {
        try (Socket socket = connect(hostPort)) {
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request);
                out.flush();
            } catch (IOException e) {
                // Refused mid-request: what matters is what (if anything) it answered.
            }
            return read(socket.getInputStream());
        }
    }

    public static Socket connect(String hostPort) throws IOException {
        int colon = hostPort.lastIndexOf(':');
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress(hostPort.substring(0, colon),
                Integer.parseInt(hostPort.substring(colon + 1))), 5000);
        socket.setSoTimeout((int) READ_TIMEOUT.toMillis());
        return socket;
    }

    /** Reads one response: head, then the body by Content-Length or to EOF. */
    public static Optional<Response> read(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int headEnd = -1;
        byte[] chunk = new byte[8192];
        try {
            while (headEnd < 0) {
                int n = in.read(chunk);
                if (n < 0) {
                    break;
                }
                buf.write(chunk, 0, n);
                headEnd = indexOf(buf.toByteArray(), "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            }
        } catch (SocketException e) {
            if (buf.size() == 0) {
                return Optional.empty(); // reset before any answer: a close, as far as a client can tell
            }
            throw e;
        }
        if (buf.size() == 0) {
            return Optional.empty();
        }
        if (headEnd < 0) {
            throw new IOException("incomplete response head: " + buf.toString(StandardCharsets.ISO_8859_1));
        }
        byte[] all = buf.toByteArray();
        String[] lines = new String(all, 0, headEnd, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] statusParts = lines[0].split(" ", 3);
        int status = Integer.parseInt(statusParts[1]);
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                        k -> new ArrayList<>()).add(lines[i].substring(colon + 1).trim());
            }
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(all, headEnd + 4, all.length - headEnd - 4);
        List<String> cl = headers.get("content-length");
        long want = cl == null ? Long.MAX_VALUE : Long.parseLong(cl.get(0));
        try {
            while (body.size() < want) {
                int n = in.read(chunk, 0, (int) Math.min(chunk.length, want - body.size()));
                if (n < 0) {
                    break;
                }
                body.write(chunk, 0, n);
            }
        } catch (SocketTimeoutException | SocketException e) {
            // A short body is visible to the caller through its length.
        }
        return Optional.of(new Response(status, headers, body.toByteArray(), lines[0]));
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
