package ocimirror.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import ocimirror.server.registry.UploadSession;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.RepoName;

/** Builders for registry responses: every one carries the API version header. */
final class Responses {
    static final String API_VERSION = "Docker-Distribution-API-Version";
    static final String API_VERSION_VALUE = "registry/2.0";
    static final String CONTENT_DIGEST = "Docker-Content-Digest";
    static final String UPLOAD_UUID = "Docker-Upload-UUID";
    static final String OCI_SUBJECT = "OCI-Subject";
    static final String OCI_FILTERS_APPLIED = "OCI-Filters-Applied";
    /** distribution-spec "Registry Proxying": the namespace a mirror served a request for. */
    static final String OCI_NAMESPACE = "OCI-Namespace";

    private Responses() {
    }

    /** A complete response with {@code body} (may be empty) and its Content-Length. */
    static FullHttpResponse full(HttpResponseStatus status, byte[] body, String contentType) {
        ByteBuf content = body.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(API_VERSION, API_VERSION_VALUE);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        if (contentType != null) {
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        }
        return r;
    }

    /** A body-less response ({@code Content-Length: 0}). */
    static FullHttpResponse empty(HttpResponseStatus status) {
        return full(status, new byte[0], null);
    }

    /** {@code 204 No Content}: no body and, as RFC 9110 asks, no Content-Length either. */
    static FullHttpResponse noContent() {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT,
                Unpooled.EMPTY_BUFFER);
        r.headers().set(API_VERSION, API_VERSION_VALUE);
        return r;
    }

    /**
     * A response to {@code HEAD}: the headers of the GET, Content-Length included, no body.
     * The server codec knows the request was HEAD and sends no content either way.
     */
    static FullHttpResponse headOnly(HttpResponseStatus status, long contentLength, String contentType) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER);
        r.headers().set(API_VERSION, API_VERSION_VALUE);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        if (contentType != null) {
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        }
        return r;
    }

    /** Headers only, for a body that follows as a file region or chunked input. */
    static HttpResponse streaming(HttpResponseStatus status, long contentLength, String contentType) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        r.headers().set(API_VERSION, API_VERSION_VALUE);
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        return r;
    }

    /** 202 (or 204 for a status request) describing an open upload session. */
    static FullHttpResponse upload(HttpResponseStatus status, UploadSession session) {
        FullHttpResponse r = empty(status);
        r.headers().set(HttpHeaderNames.LOCATION, session.location());
        // distribution sends 0-0 for an empty upload as well; clients only read the end.
        r.headers().set(HttpHeaderNames.RANGE, "0-" + Math.max(0, session.offset() - 1));
        r.headers().set(UPLOAD_UUID, session.id());
        return r;
    }

    /** 201 for a blob now in {@code repo}. */
    static FullHttpResponse blobCreated(RepoName repo, Digest digest) {
        FullHttpResponse r = empty(HttpResponseStatus.CREATED);
        r.headers().set(HttpHeaderNames.LOCATION, "/v2/" + repo + "/blobs/" + digest);
        r.headers().set(CONTENT_DIGEST, digest.toString());
        return r;
    }
}
