package ocimirror.storage.s3;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpMethod;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.SAXException;

/**
 * The S3 operations the blob store uses, one method each, on top of {@link S3Http}: single and
 * multipart uploads, HEAD, ranged GET, DELETE, and the two listings. Answers are parsed with the
 * JDK's XML parser (DTDs refused). Blocking; thread-safe.
 */
final class S3Api implements AutoCloseable {
    private final S3Http http;

    S3Api(S3Http http) {
        this.http = requireNonNull(http, "http");
    }

    /** An upload in flight, as {@code ListMultipartUploads} shows it. */
    record Upload(String key, String uploadId, Instant initiated) {
    }

    /** The object's size, or empty if there is none. */
    OptionalLong head(String key) throws IOException {
        S3Http.Response r = http.call(HttpMethod.HEAD, key, Map.of(), Map.of(), null);
        if (r.status() == 404) {
            return OptionalLong.empty();
        }
        check("HEAD " + key, r);
        return OptionalLong.of(Long.parseLong(r.headers().get("content-length", "0")));
    }

    /**
     * The object's bytes from {@code offset} ({@code length < 0}: to the end), or empty if there is
     * no object. An offset past the end gives an empty stream (S3 answers 416).
     */
    Optional<InputStream> get(String key, long offset, long length) throws IOException {
        Map<String, String> headers = offset == 0 && length < 0 ? Map.of()
                : Map.of("range", "bytes=" + offset + "-" + (length < 0 ? "" : String.valueOf(offset + length - 1)));
        if (length == 0) {
            return head(key).isPresent() ? Optional.of(InputStream.nullInputStream()) : Optional.empty();
        }
        S3Http.Streamed s = http.stream(key, headers);
        if (s.status() == 200 || s.status() == 206) {
            return Optional.of(s.body());
        }
        byte[] error;
        try (InputStream body = s.body()) {
            error = body.readAllBytes();
        }
        if (s.status() == 404) {
            return Optional.empty();
        }
        if (s.status() == 416) {
            return Optional.of(InputStream.nullInputStream());
        }
        throw error("GET " + key, s.status(), error);
    }

    /** A single PUT of a whole object ({@code body} is released). */
    void put(String key, ByteBuf body) throws IOException {
        check("PUT " + key, http.call(HttpMethod.PUT, key, Map.of(), Map.of(), body));
    }

    /** Starts a multipart upload; its id. */
    String createMultipart(String key) throws IOException {
        S3Http.Response r = http.call(HttpMethod.POST, key, Map.of("uploads", ""), Map.of(), null);
        check("CreateMultipartUpload " + key, r);
        return text(parse(r.body()).getDocumentElement(), "UploadId");
    }

    /** Uploads one part ({@code body} is released); its ETag, for the completion. */
    String uploadPart(String key, String uploadId, int partNumber, ByteBuf body) throws IOException {
        S3Http.Response r = http.call(HttpMethod.PUT, key,
                Map.of("partNumber", String.valueOf(partNumber), "uploadId", uploadId), Map.of(), body);
        check("UploadPart " + partNumber + " of " + key, r);
        String etag = r.headers().get("etag");
        if (etag == null) {
            throw new IOException("UploadPart " + partNumber + " of " + key + ": no ETag in the answer");
        }
        return etag;
    }

    /** Completes a multipart upload from its parts' ETags (part n is {@code etags.get(n - 1)}). */
    void completeMultipart(String key, String uploadId, List<String> etags) throws IOException {
        StringBuilder xml = new StringBuilder("<CompleteMultipartUpload>");
        for (int i = 0; i < etags.size(); i++) {
            xml.append("<Part><PartNumber>").append(i + 1).append("</PartNumber><ETag>")
                    .append(etags.get(i).replace("&", "&amp;").replace("<", "&lt;").replace("\"", "&quot;"))
                    .append("</ETag></Part>");
        }
        xml.append("</CompleteMultipartUpload>");
        S3Http.Response r = http.call(HttpMethod.POST, key, Map.of("uploadId", uploadId),
                Map.of("content-type", "application/xml"), Unpooled.wrappedBuffer(xml.toString().getBytes(UTF_8)));
        check("CompleteMultipartUpload " + key, r);
        // S3 may answer 200 and still fail: the error then is the body.
        Element root = parse(r.body()).getDocumentElement();
        if (root.getTagName().equals("Error")) {
            throw new S3Exception("CompleteMultipartUpload " + key, 200, text(root, "Code"), text(root, "Message"));
        }
    }

    /** Aborts a multipart upload; one already gone is not an error. */
    void abortMultipart(String key, String uploadId) throws IOException {
        S3Http.Response r = http.call(HttpMethod.DELETE, key, Map.of("uploadId", uploadId), Map.of(), null);
        if (r.status() == 404) {
            return;
        }
        check("AbortMultipartUpload " + key, r);
    }

    void delete(String key) throws IOException {
        S3Http.Response r = http.call(HttpMethod.DELETE, key, Map.of(), Map.of(), null);
        if (r.status() != 404) {
            check("DELETE " + key, r);
        }
    }

    /** Every multipart upload in flight under {@code prefix}, page after page. */
    List<Upload> listUploads(String prefix) throws IOException {
        List<Upload> uploads = new ArrayList<>();
        String keyMarker = null;
        String idMarker = null;
        while (true) {
            Map<String, String> q = new HashMap<>(Map.of("uploads", "", "prefix", prefix));
            if (keyMarker != null) {
                q.put("key-marker", keyMarker);
                q.put("upload-id-marker", idMarker == null ? "" : idMarker);
            }
            S3Http.Response r = http.call(HttpMethod.GET, "", q, Map.of(), null);
            check("ListMultipartUploads " + prefix, r);
            Element root = parse(r.body()).getDocumentElement();
            for (Element u : children(root, "Upload")) {
                String initiated = text(u, "Initiated");
                uploads.add(new Upload(text(u, "Key"), text(u, "UploadId"),
                        initiated == null ? null : Instant.parse(initiated)));
            }
            if (!"true".equals(text(root, "IsTruncated"))) {
                return uploads;
            }
            keyMarker = text(root, "NextKeyMarker");
            idMarker = text(root, "NextUploadIdMarker");
        }
    }

    /** Every object key under {@code prefix} (ListObjectsV2), page after page, but folder markers. */
    List<String> listKeys(String prefix) throws IOException {
        List<String> keys = new ArrayList<>();
        String token = null;
        while (true) {
            Map<String, String> q = new HashMap<>(Map.of("list-type", "2", "prefix", prefix));
            if (token != null) {
                q.put("continuation-token", token);
            }
            S3Http.Response r = http.call(HttpMethod.GET, "", q, Map.of(), null);
            check("ListObjectsV2 " + prefix, r);
            Element root = parse(r.body()).getDocumentElement();
            for (Element c : children(root, "Contents")) {
                String key = text(c, "Key");
                // Folder markers (some S3 implementations on file systems list their directories) are not objects of ours.
                if (!key.endsWith("/")) {
                    keys.add(key);
                }
            }
            if (!"true".equals(text(root, "IsTruncated"))) {
                return keys;
            }
            token = text(root, "NextContinuationToken");
        }
    }

    private static void check(String what, S3Http.Response r) throws S3Exception {
        if (r.status() / 100 != 2) {
            throw error(what, r.status(), r.body());
        }
    }

    private static S3Exception error(String what, int status, byte[] body) {
        String code = null;
        String message = null;
        if (body.length > 0) {
            try {
                Element root = parse(body).getDocumentElement();
                code = text(root, "Code");
                message = text(root, "Message");
            } catch (IOException e) {
                message = new String(body, 0, Math.min(body.length, 200), UTF_8);
            }
        }
        return new S3Exception(what, status, code, message);
    }

    static Document parse(byte[] xml) throws IOException {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            f.setExpandEntityReferences(false);
            DocumentBuilder b = f.newDocumentBuilder();
            b.setErrorHandler(null);
            return b.parse(new ByteArrayInputStream(xml));
        } catch (ParserConfigurationException | SAXException e) {
            throw new IOException("unreadable S3 answer: " + e.getMessage(), e);
        }
    }

    /** The text of the first direct child element named {@code name}, or null. */
    static String text(Element parent, String name) {
        List<Element> c = children(parent, name);
        return c.isEmpty() ? null : c.get(0).getTextContent();
    }

    private static List<Element> children(Element parent, String name) {
        List<Element> out = new ArrayList<>();
        NodeList nodes = parent.getChildNodes();
        for (int i = 0; i < nodes.getLength(); i++) {
            Node n = nodes.item(i);
            if (n instanceof Element e && (name.equals(e.getLocalName()) || name.equals(e.getTagName()))) {
                out.add(e);
            }
        }
        return out;
    }

    @Override
    public void close() {
        http.close();
    }
}
