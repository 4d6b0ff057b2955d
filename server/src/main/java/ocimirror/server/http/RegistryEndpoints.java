package ocimirror.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import ocimirror.server.auth.UpstreamAuthorization;
import ocimirror.server.pullthrough.AcceptedTypes;
import ocimirror.storage.blob.GrowingBlob;
import ocimirror.server.pullthrough.BlobSource;
import ocimirror.server.pullthrough.PullThroughService;
import ocimirror.server.pullthrough.TagPage;
import ocimirror.server.registry.BlobUploads;
import ocimirror.server.registry.RegistryService;
import ocimirror.server.registry.UploadSession;
import ocimirror.server.route.OciRoute;
import ocimirror.server.route.OciRouteParser;
import ocimirror.server.route.RepoTarget;
import ocimirror.server.route.UpstreamRouter;
import ocimirror.storage.blob.BlobHolds;
import ocimirror.storage.blob.BlobInfo;
import ocimirror.storage.meta.Page;
import ocimirror.storage.oci.Digest;
import ocimirror.storage.oci.MediaTypes;
import ocimirror.storage.oci.OciError;
import ocimirror.storage.oci.OciException;
import ocimirror.storage.oci.RepoName;

/**
 * Maps each (method, route) to the registry service and builds the spec's responses. Cheap reads
 * (manifest and blob lookups, referrers, upload status) answer inline on the event loop; writes
 * and listings go through {@link RegistryHandler#async} or a streaming {@link UploadBody}.
 *
 * <p>Every repository-bearing route is first resolved by the {@link UpstreamRouter}. Hosted
 * repositories get the full registry. Proxied ones ({@link ProxiedEndpoints}) are read-only:
 * manifest and blob reads, tags/list and referrers go through the {@link PullThroughService}
 * (the listings are the upstream's); anything that writes is refused.
 */
final class RegistryEndpoints {
    private static final String JSON = "application/json";
    private static final String OCTET_STREAM = "application/octet-stream";

    private final RegistryHandler h;
    private final RegistryService service;
    private final BlobUploads uploads;
    private final UpstreamRouter router;
    private final PullThroughService pullThrough;
    private final Executor storage;
    private final OpsEndpoints ops;
    private final UpstreamAuthorizationGate gate;
    /**
     * One mapper for every connection: this object is per connection, and a mapper (its caches and
     * symbol tables) weighs several KiB, 80 MiB of heap with 10 000 idle keep-alive connections.
     * Thread-safe once built.
     */
    private static final JsonMapper MAPPER = new JsonMapper();

    /** @param ops the operator's endpoints, or null (they answer 404 then) */
    RegistryEndpoints(RegistryHandler handler, RegistryService service, UpstreamRouter router,
                      PullThroughService pullThrough, Executor storage, OpsEndpoints ops) {
        this(handler, service, router, pullThrough, storage, ops, UpstreamAuthorization.none());
    }

    /** @param authorization decides for the upstreams with {@code authorization: upstream} */
    RegistryEndpoints(RegistryHandler handler, RegistryService service, UpstreamRouter router,
                      PullThroughService pullThrough, Executor storage, OpsEndpoints ops,
                      UpstreamAuthorization authorization) {
        this.gate = new UpstreamAuthorizationGate(authorization);
        this.h = handler;
        this.service = service;
        this.uploads = service.uploads();
        this.router = router;
        this.pullThrough = pullThrough;
        this.storage = storage;
        this.ops = ops;
    }

    void dispatch(Exchange ex, OciRouteParser.ParsedRequest request) {
        OciRoute route = request.route();
        if (ops != null && OpsEndpoints.handles(route)) {
            h.await(ex, ops.answer(route, ex.request.method()), response -> h.respond(ex, response));
            return;
        }
        if (route instanceof OciRoute.InvalidManifestReference r) {
            // Answered before routing, as the parser's other refusals are: hosted or proxied, such
            // a manifest cannot exist, and the upstream is never asked for it.
            throw invalidReference(ex.request.method(), r);
        }
        RepoName repo = repoOf(route);
        if (repo != null && router.resolve(repo, request.ns()) instanceof RepoTarget.Proxied p) {
            ex.namespace = p.namespace();
            ex.record.upstream(p.upstream().name());
            if (gate.applies(p)) {
                OciRoute checked = route;
                gate.check(h, ex, p, route, () -> proxied(ex, checked, p));
                return;
            }
            proxied(ex, route, p);
            return;
        }
        if (route instanceof OciRoute.Base && gate.challengeBase(h, ex)) {
            return;
        }
        if (route instanceof OciRoute.UploadStart r && r.from() != null) {
            route = mountFromCache(r);
        }
        hosted(ex, route);
    }

    private void hosted(Exchange ex, OciRoute route) {
        HttpMethod m = ex.request.method();
        boolean read = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD);
        if (route instanceof OciRoute.NotFound || OpsEndpoints.handles(route) // no ops endpoints configured
                || PinEndpoints.handles(route)) { // admin listener only
            throw OciError.NOT_FOUND.exception(null);
        } else if (route instanceof OciRoute.Base) {
            if (read) {
                h.respond(ex, ex.head ? Responses.headOnly(HttpResponseStatus.OK, 2, JSON)
                        : Responses.full(HttpResponseStatus.OK, new byte[] {'{', '}'}, JSON));
                return;
            }
        } else if (route instanceof OciRoute.Catalog c) {
            if (m.equals(HttpMethod.GET)) {
                h.async(ex, () -> service.catalog(c.n(), c.last(), router::listable), page -> catalog(c, page));
                return;
            }
        } else if (route instanceof OciRoute.Tags t) {
            if (m.equals(HttpMethod.GET)) {
                h.async(ex, () -> service.tags(t.repo(), t.n(), t.last()), list -> tags(t, list));
                return;
            }
        } else if (route instanceof OciRoute.Manifest r) {
            if (read) {
                getManifest(ex, r);
                return;
            } else if (m.equals(HttpMethod.PUT)) {
                putManifest(ex, r);
                return;
            } else if (m.equals(HttpMethod.DELETE)) {
                h.async(ex, () -> {
                    service.deleteManifest(r.repo(), r.reference());
                    return null;
                }, v -> Responses.empty(HttpResponseStatus.ACCEPTED));
                return;
            }
        } else if (route instanceof OciRoute.Blob r) {
            if (read) {
                getBlob(ex, r);
                return;
            } else if (m.equals(HttpMethod.DELETE)) {
                h.async(ex, () -> {
                    service.deleteBlob(r.repo(), r.digest());
                    return null;
                }, v -> Responses.empty(HttpResponseStatus.ACCEPTED));
                return;
            }
        } else if (route instanceof OciRoute.UploadStart r) {
            if (m.equals(HttpMethod.POST)) {
                startUpload(ex, r);
                return;
            }
        } else if (route instanceof OciRoute.Upload r) {
            if (m.equals(HttpMethod.GET)) {
                h.respond(ex, Responses.upload(HttpResponseStatus.NO_CONTENT, uploads.status(r.repo(), r.uuid())));
                return;
            } else if (m.equals(HttpMethod.PATCH) || m.equals(HttpMethod.PUT)) {
                continueUpload(ex, r, m.equals(HttpMethod.PUT));
                return;
            } else if (m.equals(HttpMethod.DELETE)) {
                h.async(ex, () -> {
                    uploads.cancel(r.repo(), r.uuid());
                    return null;
                }, v -> Responses.empty(HttpResponseStatus.NO_CONTENT));
                return;
            }
        } else if (route instanceof OciRoute.Referrers r) {
            if (m.equals(HttpMethod.GET) && service.mayBlock()) {
                h.async(ex, () -> service.referrers(r.repo(), r.digest(), r.artifactType()), index -> {
                    FullHttpResponse response = Responses.full(HttpResponseStatus.OK, index, MediaTypes.OCI_INDEX);
                    if (r.artifactType() != null) {
                        response.headers().set(Responses.OCI_FILTERS_APPLIED, "artifactType");
                    }
                    return response;
                });
                return;
            } else if (m.equals(HttpMethod.GET)) {
                FullHttpResponse response = Responses.full(HttpResponseStatus.OK,
                        service.referrers(r.repo(), r.digest(), r.artifactType()), MediaTypes.OCI_INDEX);
                if (r.artifactType() != null) {
                    response.headers().set(Responses.OCI_FILTERS_APPLIED, "artifactType");
                }
                h.respond(ex, response);
                return;
            }
        }
        throw OciError.METHOD_NOT_ALLOWED.exception(m + " is not supported here");
    }

    /**
     * The refusal of a manifest reference that is neither a tag nor a digest: GET, HEAD and DELETE
     * are 404 {@code MANIFEST_UNKNOWN} (a manifest that cannot exist is unknown, as the spec's
     * conformance suite expects; DELETE too, whether or not deletes are enabled), a PUT is the
     * parser's 400 ({@code TAG_INVALID} or {@code DIGEST_INVALID}), and other methods are 405, as
     * for any manifest.
     */
    private static OciException invalidReference(HttpMethod m, OciRoute.InvalidManifestReference r) {
        if (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD) || m.equals(HttpMethod.DELETE)) {
            return OciError.MANIFEST_UNKNOWN.exception(r.detail());
        } else if (m.equals(HttpMethod.PUT)) {
            return r.error().exception(r.detail());
        }
        return OciError.METHOD_NOT_ALLOWED.exception(m + " is not supported here");
    }

    /** Reads of a proxied repository; everything that would write is refused with 405 UNSUPPORTED. */
    private void proxied(Exchange ex, OciRoute route, RepoTarget.Proxied p) {
        HttpMethod m = ex.request.method();
        boolean read = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD);
        if (route instanceof OciRoute.Manifest r && read) {
            AcceptedTypes accept = pullThrough.accepted(ex.request.headers().getAll(HttpHeaderNames.ACCEPT));
            // Evicted between the lookup and the read: asked once more, which fetches it again.
            Runnable again = () -> h.await(ex, pullThrough.manifest(p, r.reference(), accept, ex.record::cache),
                    content -> writeManifest(ex, content, null));
            h.await(ex, pullThrough.manifest(p, r.reference(), accept, ex.record::cache),
                    content -> writeManifest(ex, content, again));
        } else if (route instanceof OciRoute.Blob r && read) {
            proxiedBlob(ex, p, r, true);
        } else if (route instanceof OciRoute.Tags t && m.equals(HttpMethod.GET)) {
            h.await(ex, pullThrough.tags(p, t.n(), t.last(), ex.record::cache),
                    page -> h.respond(ex, proxiedTags(t, p, page)));
        } else if (route instanceof OciRoute.Referrers r && m.equals(HttpMethod.GET)) {
            h.await(ex, pullThrough.referrers(p, r.digest(), r.artifactType(), ex.record::cache), page -> {
                FullHttpResponse response = Responses.full(HttpResponseStatus.OK, page.index(), MediaTypes.OCI_INDEX);
                if (page.filtered()) {
                    response.headers().set(Responses.OCI_FILTERS_APPLIED, "artifactType");
                }
                h.respond(ex, response);
            });
        } else {
            throw OciError.UNSUPPORTED.exception("repository " + p.upstreamRepo() + " is proxied from upstream '"
                    + p.upstream().name() + "' (" + p.upstream().url() + ") and read-only here;"
                    + " push to a hosted namespace instead");
        }
    }

    /** A proxied blob, asked for once more if it was evicted between the lookup and the read. */
    private void proxiedBlob(Exchange ex, RepoTarget.Proxied p, OciRoute.Blob r, boolean retry) {
        Runnable again = retry ? () -> proxiedBlob(ex, p, r, false) : null;
        h.await(ex, leaveOnClose(pullThrough.blob(p, r.digest(), ex.record::cache)), source -> {
            if (source instanceof BlobSource.Stored s) {
                writeBlob(ex, s.blob(), again);
            } else if (source instanceof BlobSource.Copying c) {
                writeDownloading(ex, c.copy(), again);
            } else {
                writeDownloading(ex, ((BlobSource.Downloading) source).fetch(), again);
            }
        });
    }

    /**
     * Cancels {@code source} if the client's connection closes while it waits (a download queued
     * for the upstream's connections then leaves the queue); returns what to await: the same
     * outcome, except that after a cancellation nothing is left to answer, so it never completes.
     */
    private CompletableFuture<BlobSource> leaveOnClose(CompletableFuture<BlobSource> source) {
        if (source.isDone()) {
            return source;
        }
        ChannelFuture closed = h.context().channel().closeFuture();
        ChannelFutureListener leave = f -> source.cancel(false);
        closed.addListener(leave);
        source.whenComplete((v, e) -> closed.removeListener(leave));
        return source.exceptionallyCompose(e -> source.isCancelled() ? new CompletableFuture<>()
                : CompletableFuture.failedFuture(e));
    }

    /**
     * A mount whose source names a proxied repository mounts from its cache key, so that a blob
     * pulled through the mirror can be mounted into a hosted repository.
     */
    private OciRoute mountFromCache(OciRoute.UploadStart r) {
        try {
            RepoTarget from = router.resolve(r.from(), null);
            if (from instanceof RepoTarget.Proxied p && gate.applies(p)) {
                return r; // its content is for the clients the upstream accepts: no mount, an upload
            }
            return new OciRoute.UploadStart(r.repo(), r.digest(), r.mount(), from.repo());
        } catch (OciException unknown) {
            return r; // the mount fails and becomes an ordinary upload, as the spec says
        }
    }

    private static RepoName repoOf(OciRoute route) {
        if (route instanceof OciRoute.Manifest r) {
            return r.repo();
        } else if (route instanceof OciRoute.Blob r) {
            return r.repo();
        } else if (route instanceof OciRoute.Tags r) {
            return r.repo();
        } else if (route instanceof OciRoute.UploadStart r) {
            return r.repo();
        } else if (route instanceof OciRoute.Upload r) {
            return r.repo();
        } else if (route instanceof OciRoute.Referrers r) {
            return r.repo();
        }
        return null;
    }

    private void getManifest(Exchange ex, OciRoute.Manifest r) {
        if (service.mayBlock()) { // shared metadata: a lookup may be a round trip to PostgreSQL
            h.await(ex, h.onStorage(() -> service.manifest(r.repo(), r.reference())),
                    content -> writeManifest(ex, content, null));
            return;
        }
        writeManifest(ex, service.manifest(r.repo(), r.reference()), null);
    }

    /** {@code ifGone}: what to do if the blob was deleted before it could be opened (null: 404). */
    private void writeManifest(Exchange ex, RegistryService.ManifestContent content, Runnable ifGone) {
        long size = content.blob().size();
        // Small manifests come with their bytes (kept in memory): one write, no file opened.
        boolean inMemory = !ex.head && content.body() != null;
        HttpResponse head = ex.head ? Responses.headOnly(HttpResponseStatus.OK, size, content.mediaType())
                : inMemory ? Responses.full(HttpResponseStatus.OK, content.body(), content.mediaType())
                : Responses.streaming(HttpResponseStatus.OK, size, content.mediaType());
        head.headers().set(Responses.CONTENT_DIGEST, content.digest().toString());
        head.headers().set(HttpHeaderNames.ETAG, "\"" + content.digest() + "\"");
        if (ex.head || inMemory) {
            h.respond(ex, head);
            return;
        }
        Opened file = open(content.blob(), OciError.MANIFEST_UNKNOWN, ifGone);
        if (file != null) {
            h.respondFile(ex, head, file.channel(), 0, size, file.hold()::close);
        }
    }

    private void getBlob(Exchange ex, OciRoute.Blob r) {
        if (service.mayBlock()) { // shared: a lookup may be a round trip; the blob may be in S3 only
            h.await(ex, h.onStorage(() -> service.locate(r.repo(), r.digest())), found -> {
                if (found.stored() != null) {
                    writeBlob(ex, found.stored(), null);
                } else {
                    writeDownloading(ex, found.copying(), null);
                }
            });
            return;
        }
        writeBlob(ex, service.blob(r.repo(), r.digest()), null);
    }

    private void writeBlob(Exchange ex, BlobInfo blob, Runnable ifGone) {
        BlobPlan plan = plan(ex, blob.digest(), blob.size());
        if (plan == null) {
            return;
        }
        if (ex.head) {
            h.respond(ex, plan.head());
            return;
        }
        Opened file = open(blob, OciError.BLOB_UNKNOWN, ifGone);
        if (file != null) {
            h.respondFile(ex, plan.head(), file.channel(), plan.start(), plan.length(), file.hold()::close);
        }
    }

    /** A blob still downloading: the same headers, the body streamed as it arrives. */
    private void writeDownloading(Exchange ex, GrowingBlob fetch, Runnable ifGone) {
        BlobPlan plan = plan(ex, fetch.digest(), fetch.contentLength());
        if (plan == null) {
            return;
        }
        if (ex.head) {
            h.respond(ex, plan.head());
            return;
        }
        // Held from the start: once committed, the blob is in the eviction order like any other.
        Optional<BlobHolds.Hold> hold = service.holds().tryHold(fetch.digest());
        if (hold.isEmpty()) {
            gone(fetch.digest(), OciError.BLOB_UNKNOWN, ifGone);
            return;
        }
        FileChannel reader;
        try {
            reader = fetch.openReader();
        } catch (RuntimeException e) {
            hold.get().close();
            throw e;
        }
        h.respondGrowing(ex, plan.head(), fetch, reader, plan.start(), plan.length(), hold.get()::close);
    }

    /** An open blob file and the hold that keeps eviction and GC away from it until the body is sent. */
    private record Opened(FileChannel channel, BlobHolds.Hold hold) {
    }

    /** Holds and opens {@code blob}; if it is being deleted or gone, runs {@code ifGone} (or 404s) and returns null. */
    private Opened open(BlobInfo blob, OciError unknown, Runnable ifGone) {
        Optional<BlobHolds.Hold> hold = service.holds().tryHold(blob.digest());
        if (hold.isEmpty()) {
            gone(blob.digest(), unknown, ifGone);
            return null;
        }
        try {
            return new Opened(FileChannel.open(blob.path(), StandardOpenOption.READ), hold.get());
        } catch (NoSuchFileException e) {
            hold.get().close();
            gone(blob.digest(), unknown, ifGone);
            return null;
        } catch (IOException e) {
            hold.get().close();
            throw new java.io.UncheckedIOException(e);
        } catch (RuntimeException e) {
            hold.get().close();
            throw e;
        }
    }

    private static void gone(Digest digest, OciError unknown, Runnable ifGone) {
        if (ifGone == null) {
            throw unknown.exception(digest + " is gone");
        }
        ifGone.run();
    }

    private record BlobPlan(HttpResponse head, long start, long length) {
    }

    /** The response headers and byte range for a blob of {@code size} bytes; null if a 416 was sent. */
    private BlobPlan plan(Exchange ex, Digest digest, long size) {
        ByteRange.Result range = ByteRange.parse(ex.request.headers().get(HttpHeaderNames.RANGE), size);
        if (range instanceof ByteRange.Unsatisfiable) {
            FullHttpResponse refusal = h.errors().response(OciError.RANGE_INVALID,
                    "cannot serve " + ex.request.headers().get(HttpHeaderNames.RANGE) + " of " + size + " bytes", ex.head);
            refusal.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size);
            h.respond(ex, refusal);
            return null;
        }
        long start = 0;
        long length = size;
        HttpResponseStatus status = HttpResponseStatus.OK;
        if (range instanceof ByteRange.Partial p) {
            start = p.range().start();
            length = p.range().length();
            status = HttpResponseStatus.PARTIAL_CONTENT;
        }
        HttpResponse head = ex.head ? Responses.headOnly(status, length, OCTET_STREAM)
                : Responses.streaming(status, length, OCTET_STREAM);
        HttpHeaders hd = head.headers();
        hd.set(Responses.CONTENT_DIGEST, digest.toString());
        hd.set(HttpHeaderNames.ETAG, "\"" + digest + "\"");
        hd.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
        // Content-addressed: a blob never changes, caches may keep it for good.
        hd.set(HttpHeaderNames.CACHE_CONTROL, "max-age=31536000");
        if (range instanceof ByteRange.Partial p) {
            hd.set(HttpHeaderNames.CONTENT_RANGE, p.range().contentRange(size));
        }
        return new BlobPlan(head, start, length);
    }

    private void putManifest(Exchange ex, OciRoute.Manifest r) {
        int limit = service.settings().maxManifestBytes();
        if (contentLength(ex) > limit) {
            throw OciError.SIZE_TOO_LARGE.exception("manifests are limited to " + limit + " bytes");
        }
        String contentType = ex.request.headers().get(HttpHeaderNames.CONTENT_TYPE);
        ex.body = new ManifestBody(h, ex, h.context().alloc(), limit, bytes -> h.async(ex,
                () -> service.putManifest(r.repo(), r.reference(), contentType, bytes),
                result -> {
                    FullHttpResponse response = Responses.empty(HttpResponseStatus.CREATED);
                    response.headers().set(HttpHeaderNames.LOCATION, "/v2/" + r.repo() + "/manifests/" + result.digest());
                    response.headers().set(Responses.CONTENT_DIGEST, result.digest().toString());
                    if (result.subject() != null) {
                        response.headers().set(Responses.OCI_SUBJECT, result.subject().toString());
                    }
                    return response;
                }));
    }

    private void startUpload(Exchange ex, OciRoute.UploadStart r) {
        if (r.mount() != null) {
            h.async(ex, () -> {
                Optional<BlobInfo> mounted = uploads.mount(r.repo(), r.mount(), r.from());
                if (mounted.isPresent()) {
                    return Responses.blobCreated(r.repo(), r.mount());
                }
                return newSession(r.repo()); // the spec's fallback: an ordinary upload
            }, response -> response);
        } else if (r.digest() != null) {
            checkUploadSize(ex, 0);
            ex.body = uploadBody(ex, r.repo(), null, r.digest());
        } else {
            h.async(ex, () -> newSession(r.repo()), response -> response);
        }
    }

    private FullHttpResponse newSession(RepoName repo) {
        UploadSession session = uploads.start(repo);
        uploads.release(session);
        return Responses.upload(HttpResponseStatus.ACCEPTED, session);
    }

    private void continueUpload(Exchange ex, OciRoute.Upload r, boolean finish) {
        if (finish && r.digest() == null) {
            throw OciError.DIGEST_INVALID.exception("the digest query parameter is required");
        }
        UploadSession session = uploads.acquire(r.repo(), r.uuid());
        String outOfOrder;
        try {
            outOfOrder = checkContentRange(ex, session);
            checkUploadSize(ex, session.offset());
        } catch (RuntimeException e) {
            uploads.release(session);
            throw e;
        }
        if (outOfOrder != null) {
            uploads.release(session);
            FullHttpResponse refusal = h.errors().response(OciError.RANGE_INVALID, outOfOrder, false);
            // Where the upload stands, so that the client can resume from there.
            refusal.headers().add(Responses.upload(HttpResponseStatus.ACCEPTED, session).headers()
                    .remove(HttpHeaderNames.CONTENT_LENGTH).remove(HttpHeaderNames.CONTENT_TYPE)
                    .remove(Responses.API_VERSION));
            h.respond(ex, refusal);
            return;
        }
        ex.body = uploadBody(ex, r.repo(), session, finish ? r.digest() : null);
    }

    private UploadBody uploadBody(Exchange ex, RepoName repo, UploadSession session, Digest commit) {
        var ctx = h.context();
        return new UploadBody(h, ex, uploads, storage, ctx.executor(), ctx.alloc(), repo, session, commit);
    }

    /** A chunk must start where the upload stands; returns why it does not, or null. */
    private static String checkContentRange(Exchange ex, UploadSession session) {
        String header = ex.request.headers().get(HttpHeaderNames.CONTENT_RANGE);
        if (header == null) {
            return null;
        }
        String v = header.trim();
        if (v.startsWith("bytes")) {
            v = v.substring(5).trim();
            if (v.startsWith("=")) {
                v = v.substring(1).trim();
            }
        }
        int slash = v.indexOf('/'); // "start-end/total" (RFC 9110 form): the total is not needed
        if (slash >= 0) {
            v = v.substring(0, slash);
        }
        int dash = v.indexOf('-');
        long start;
        long end;
        try {
            start = dash < 0 ? -1 : Long.parseLong(v.substring(0, dash).trim());
            end = dash < 0 ? -1 : Long.parseLong(v.substring(dash + 1).trim());
        } catch (NumberFormatException e) {
            start = -1;
            end = -1;
        }
        long length = contentLength(ex);
        if (start != session.offset() || end < start - 1 || (length >= 0 && end - start + 1 != length)) {
            return "Content-Range " + header + " does not continue the upload at " + session.offset();
        }
        return null;
    }

    private void checkUploadSize(Exchange ex, long offset) {
        long max = service.settings().maxUploadBytes();
        if (contentLength(ex) > max - offset) {
            throw OciError.SIZE_TOO_LARGE.exception("uploads are limited to " + max + " bytes");
        }
    }

    private static long contentLength(Exchange ex) {
        String v = ex.request.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        try {
            return v == null ? -1 : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private HttpResponse catalog(OciRoute.Catalog c, Page<String> page) {
        ObjectNode root = MAPPER.createObjectNode();
        page.items().forEach(root.putArray("repositories")::add);
        FullHttpResponse r = Responses.full(HttpResponseStatus.OK, bytes(root), JSON);
        if (page.more() && !page.items().isEmpty()) {
            r.headers().set("Link", next("/v2/_catalog", c.n(), page.items()));
        }
        return r;
    }

    private HttpResponse tags(OciRoute.Tags t, RegistryService.TagList list) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("name", t.repo().toString()); // as the client named it (a proxied repo is cached under another key)
        list.tags().forEach(root.putArray("tags")::add);
        FullHttpResponse r = Responses.full(HttpResponseStatus.OK, bytes(root), JSON);
        if (list.more() && !list.tags().isEmpty()) {
            r.headers().set("Link", next("/v2/" + t.repo() + "/tags/list", t.n(), list.tags()));
        }
        return r;
    }

    /**
     * A proxied repository's tags under the name the client used, and the next page's link to the
     * mirror's own path (with the client's {@code ns}, so that it reaches the same upstream).
     */
    private HttpResponse proxiedTags(OciRoute.Tags t, RepoTarget.Proxied p, TagPage page) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("name", t.repo().toString());
        page.tags().forEach(root.putArray("tags")::add);
        FullHttpResponse r = Responses.full(HttpResponseStatus.OK, bytes(root), JSON);
        if (page.more()) {
            int n = page.nextN() == OciRoute.ALL ? OciRouteParser.MAX_PAGE : page.nextN();
            String ns = p.namespace() == null ? "" : "&ns=" + URLEncoder.encode(p.namespace(), StandardCharsets.UTF_8);
            r.headers().set("Link", "</v2/" + t.repo() + "/tags/list?n=" + n + "&last=" + page.nextLast() + ns
                    + ">; rel=\"next\"");
        }
        return r;
    }

    /** The RFC 5988 link to the next page, as distribution writes it. */
    private static String next(String path, int n, List<String> items) {
        int pageSize = n == OciRoute.ALL ? OciRouteParser.MAX_PAGE : n;
        return "<" + path + "?n=" + pageSize + "&last=" + items.get(items.size() - 1) + ">; rel=\"next\"";
    }

    private static byte[] bytes(ObjectNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

}
